package dev.nimbus.kvm.fd;

import dev.nimbus.host.Errno;
import dev.nimbus.kvm.abi.KvmIoctls;
import dev.nimbus.kvm.abi.X86KvmStructs;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.stream.IntStream;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static org.assertj.core.api.Assertions.assertThat;

/** The x86-64 snapshot calls as the kernel would see them, through a stand-in for it. */
class X86StateIoctlTest {
    private static final long HEADER = X86KvmStructs.KVM_MSRS.byteSize();
    private static final long ENTRY = X86KvmStructs.KVM_MSR_ENTRY.byteSize();

    private static int index(byte[] msrs, int i) {
        return MemorySegment.ofArray(msrs).get(JAVA_INT_UNALIGNED, HEADER + i * ENTRY + X86KvmStructs.MSR_ENTRY_INDEX);
    }

    @Test
    void msrsAreReadInBatchesBelowTheKernelsLimitAndOneItCannotReadIsLeftOut() {
        // 265 MSRs: the first batch (255) is read whole; the second (10) stops at its 4th; the rest (6) are read
        FakeIoctl scripted = FakeIoctl.recording(255, 3, 6);
        int[] indices = IntStream.range(0x100, 0x100 + 265).toArray();
        KvmVcpuFd vcpu = scripted.vcpu(Arena.ofAuto().allocate(4096, 4096));

        byte[] msrs = vcpu.getMsrsStruct(indices);

        assertThat(scripted.calls()).isEqualTo(3);
        assertThat(scripted.lastRequest()).isEqualTo(KvmIoctls.KVM_GET_MSRS);
        assertThat(scripted.arg(1).get(JAVA_INT, X86KvmStructs.MSRS_NMSRS)).isEqualTo(10);
        assertThat(scripted.arg(2).get(JAVA_INT, X86KvmStructs.MSRS_NMSRS)).isEqualTo(6);
        assertThat(MemorySegment.ofArray(msrs).get(JAVA_INT_UNALIGNED, X86KvmStructs.MSRS_NMSRS)).isEqualTo(264);
        assertThat(msrs).hasSize((int) (HEADER + 264 * ENTRY));
        assertThat(index(msrs, 257)).isEqualTo(0x100 + 257);
        assertThat(index(msrs, 258)).as("0x%x, which the kernel could not read, is left out", 0x100 + 258)
                .isEqualTo(0x100 + 259);
    }

    @Test
    void msrsAreSetInBatchesAndThePositionOfTheFirstRefusedIsReturned() {
        FakeIoctl kernel = FakeIoctl.recording(255, 7);
        KvmVcpuFd vcpu = kernel.vcpu(Arena.ofAuto().allocate(4096, 4096));
        byte[] msrs = new byte[(int) (HEADER + 300 * ENTRY)];
        MemorySegment.ofArray(msrs).set(JAVA_INT_UNALIGNED, X86KvmStructs.MSRS_NMSRS, 300);

        assertThat(vcpu.setMsrsStruct(msrs)).isEqualTo(262);
        assertThat(kernel.calls()).isEqualTo(2);
        assertThat(kernel.lastRequest()).isEqualTo(KvmIoctls.KVM_SET_MSRS);
        assertThat(kernel.arg(1).get(JAVA_INT, X86KvmStructs.MSRS_NMSRS)).isEqualTo(45);
    }

    @Test
    void theCpuidAsSetIsAskedAgainWithMoreRoomWhenTheKernelSaysE2big() {
        FakeIoctl kernel = FakeIoctl.recording(-Errno.E2BIG, 0);
        KvmVcpuFd vcpu = kernel.vcpu(Arena.ofAuto().allocate(4096, 4096));

        byte[] cpuid = vcpu.getCpuid2();

        assertThat(kernel.calls()).isEqualTo(2);
        assertThat(kernel.lastRequest()).isEqualTo(KvmIoctls.KVM_GET_CPUID2);
        assertThat(kernel.arg(1).get(JAVA_INT, X86KvmStructs.CPUID2_NENT)).as("the room offered the second time")
                .isEqualTo(512);
        // the stand-in leaves nent as it was asked: the bytes are the header and that many entries
        assertThat(cpuid).hasSize((int) (X86KvmStructs.KVM_CPUID2.byteSize() + 512 * X86KvmStructs.KVM_CPUID_ENTRY2.byteSize()));
    }
}
