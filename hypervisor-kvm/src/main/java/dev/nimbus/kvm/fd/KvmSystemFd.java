package dev.nimbus.kvm.fd;

import dev.nimbus.host.NativeIoctl;
import dev.nimbus.host.Errno;
import dev.nimbus.host.LibC;
import dev.nimbus.host.SyscallException;
import dev.nimbus.hypervisor.x86.CpuidEntry;
import dev.nimbus.kvm.abi.KvmConstants;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static dev.nimbus.kvm.abi.KvmIoctls.KVM_CHECK_EXTENSION;
import static dev.nimbus.kvm.abi.KvmIoctls.KVM_CREATE_VM;
import static dev.nimbus.kvm.abi.KvmIoctls.KVM_GET_API_VERSION;
import static dev.nimbus.kvm.abi.KvmIoctls.KVM_GET_MSR_INDEX_LIST;
import static dev.nimbus.kvm.abi.KvmIoctls.KVM_GET_SUPPORTED_CPUID;
import static dev.nimbus.kvm.abi.KvmIoctls.KVM_GET_VCPU_MMAP_SIZE;
import static dev.nimbus.kvm.abi.X86KvmStructs.CPUID2_NENT;
import static dev.nimbus.kvm.abi.X86KvmStructs.KVM_CPUID2;
import static dev.nimbus.kvm.abi.X86KvmStructs.KVM_CPUID_ENTRY2;
import static dev.nimbus.kvm.abi.X86KvmStructs.KVM_MSR_LIST;
import static dev.nimbus.kvm.abi.X86KvmStructs.MSR_LIST_NMSRS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/** The system file descriptor, {@code /dev/kvm}: capabilities and VM creation. */
public final class KvmSystemFd extends KvmFd {
    private static final long CPUID_ENTRY_SIZE = KVM_CPUID_ENTRY2.byteSize();
    private static final long CPUID_HEADER = KVM_CPUID2.byteSize();
    private static final long MSR_LIST_HEADER = KVM_MSR_LIST.byteSize();
    private static final long MSR_INDEX_SIZE = JAVA_INT.byteSize();

    private KvmSystemFd(int fd, NativeIoctl nativeIoctl) {
        super(fd, nativeIoctl);
    }

    /** Opens the KVM device read-write, close-on-exec. */
    public static KvmSystemFd open(String device) {
        return new KvmSystemFd(LibC.open(device, LibC.O_RDWR | LibC.O_CLOEXEC, 0), NativeIoctl.LIBC);
    }

    /** {@code KVM_GET_API_VERSION}: 12 on every kernel since 2.6.22. */
    public int getApiVersion() {
        return ioctl(KVM_GET_API_VERSION, 0, "KVM_GET_API_VERSION");
    }

    /** {@code KVM_CHECK_EXTENSION} on the system fd: 0 when absent, else 1 or a capability-specific value. */
    public int checkExtension(int capability) {
        return ioctl(KVM_CHECK_EXTENSION, capability, "KVM_CHECK_EXTENSION");
    }

    /** {@code KVM_GET_VCPU_MMAP_SIZE}: bytes to map of each vCPU fd (the kvm_run page and what follows). */
    public int getVcpuMmapSize() {
        return ioctl(KVM_GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE");
    }

    /**
     * {@code KVM_CREATE_VM} with machine type {@code type} (0 on x86-64 and riscv64; on AArch64 the IPA width,
     * see {@link KvmConstants#armVmTypeIpaSize}). The kernel may fail with EINTR while it waits for memory;
     * the call is then repeated.
     */
    public KvmVmFd createVm(long type) {
        int vmFd = ioctl(KVM_CREATE_VM, type, "KVM_CREATE_VM");
        return new KvmVmFd(vmFd, getVcpuMmapSize(), nativeIoctl);
    }

    /** {@code KVM_GET_SUPPORTED_CPUID} (x86-64): every leaf KVM can offer on this host. */
    public List<CpuidEntry> getSupportedCpuid() {
        for (int capacity = 128; ; capacity *= 2) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment buf = arena.allocate(CPUID_HEADER + capacity * CPUID_ENTRY_SIZE, 8);
                buf.set(JAVA_INT, CPUID2_NENT, capacity);
                try {
                    ioctl(KVM_GET_SUPPORTED_CPUID, buf, "KVM_GET_SUPPORTED_CPUID");
                } catch (SyscallException e) {
                    if (e.errno() == Errno.E2BIG && capacity < 4096) {
                        continue;
                    }
                    throw e;
                }
                int n = buf.get(JAVA_INT, CPUID2_NENT);
                List<CpuidEntry> out = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    out.add(X86Codec.readCpuid(buf.asSlice(CPUID_HEADER + i * CPUID_ENTRY_SIZE, CPUID_ENTRY_SIZE)));
                }
                return out;
            }
        }
    }

    /** {@code KVM_GET_MSR_INDEX_LIST} (x86-64): the MSRs KVM saves and restores for a vCPU. */
    public int[] getMsrIndexList() {
        for (int capacity = 256; ; capacity *= 2) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment buf = arena.allocate(MSR_LIST_HEADER + MSR_INDEX_SIZE * capacity, 4);
                buf.set(JAVA_INT, MSR_LIST_NMSRS, capacity);
                try {
                    ioctl(KVM_GET_MSR_INDEX_LIST, buf, "KVM_GET_MSR_INDEX_LIST");
                } catch (SyscallException e) {
                    if (e.errno() == Errno.E2BIG && capacity < 16384) {
                        continue;
                    }
                    throw e;
                }
                int n = buf.get(JAVA_INT, MSR_LIST_NMSRS);
                int[] out = new int[n];
                MemorySegment.copy(buf, JAVA_INT, MSR_LIST_HEADER, out, 0, n);
                return out;
            }
        }
    }
}
