package dev.nimbus.vmm.layeringfixture;

import dev.nimbus.api.MicroVm;

/** Breaks the layering on purpose (the VMM building on the embedding API above it), to show the rule catches it. */
public final class VmmUsingTheEmbeddingApi {
    public MicroVm.Builder builder() {
        return MicroVm.builder();
    }
}
