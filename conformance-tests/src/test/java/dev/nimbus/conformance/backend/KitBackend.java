package dev.nimbus.conformance.backend;

import dev.nimbus.conformance.KvmRequirement;
import dev.nimbus.conformance.MshvRequirement;
import dev.nimbus.hypervisor.Hypervisor;
import dev.nimbus.hypervisor.HypervisorRegistry;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.Extension;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The backends the conformance kit is meant for, in the order its cases run: each kit class
 * ({@link ConformanceKit}) runs once per backend, named by it. What a case needs of its machine is the
 * backend's requirement: {@link KvmRequirement} (aborted outside CI, failed under {@code CI=true}, where a KVM
 * test must run, in the L1 rig) and {@link MshvRequirement} (aborted, with the reason, wherever there is no
 * usable {@code /dev/mshv}, which is every machine of this project).
 */
enum KitBackend {
    KVM("kvm", new KvmRequirement()),
    MSHV("mshv", new MshvRequirement());

    private final String id;
    private final Extension requirement;

    KitBackend(String id, BeforeAllCallback requirement) {
        this.id = id;
        this.requirement = new CaseRequirement(requirement);
    }

    /** The backend's name, as {@code --hypervisor} takes it; what a report calls the case. */
    String id() {
        return id;
    }

    /** The extension that lets each case run on this machine or aborts (or, for KVM on CI, fails) it. */
    Extension requirement() {
        return requirement;
    }

    /**
     * The backend, found through {@link HypervisorRegistry} as the VMM finds it ({@code --hypervisor NAME},
     * never by class name); throws, naming why, where it is not usable.
     */
    Hypervisor hypervisor() {
        return HypervisorRegistry.discover(KitBackend.class.getClassLoader()).select(id);
    }

    /**
     * Aborts the current case when it runs on {@code backend} (this case's backend is {@code this}): for a kit
     * test that cannot apply to that backend at all, with {@code reason} saying why. Never used to hide a
     * failure: a gap a backend could close is asked of its capabilities instead.
     */
    void notApplicableOn(KitBackend backend, String reason) {
        assumeTrue(this != backend, () -> "not applicable to " + backend.id + ": " + reason);
    }

    @Override
    public String toString() {
        return id;
    }
}
