package dev.nimbus.hypervisor;

/**
 * How to create a VM.
 *
 * @param ipaBits the guest physical address width to ask for (AArch64 {@code KVM_CREATE_VM} takes it);
 *                0 means the hypervisor's default
 */
public record VmOptions(int ipaBits) {
    public VmOptions {
        if (ipaBits < 0 || ipaBits > 64) {
            throw new IllegalArgumentException("ipaBits out of range: " + ipaBits);
        }
    }

    public static VmOptions defaults() {
        return new VmOptions(0);
    }
}
