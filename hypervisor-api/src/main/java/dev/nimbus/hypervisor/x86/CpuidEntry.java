package dev.nimbus.hypervisor.x86;

/**
 * One CPUID leaf as the guest will see it: for {@code function} (EAX) and, where {@code indexed},
 * {@code index} (ECX), the four output registers.
 */
public record CpuidEntry(int function, int index, boolean indexed, int eax, int ebx, int ecx, int edx) {
    public CpuidEntry withEax(int v) {
        return new CpuidEntry(function, index, indexed, v, ebx, ecx, edx);
    }

    public CpuidEntry withEbx(int v) {
        return new CpuidEntry(function, index, indexed, eax, v, ecx, edx);
    }

    public CpuidEntry withEcx(int v) {
        return new CpuidEntry(function, index, indexed, eax, ebx, v, edx);
    }

    public CpuidEntry withEdx(int v) {
        return new CpuidEntry(function, index, indexed, eax, ebx, ecx, v);
    }
}
