package dev.nimbus.kvm.irq;

import dev.nimbus.hypervisor.IrqChip;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.kvm.abi.KvmIoctls;
import dev.nimbus.kvm.fd.FakeIoctl;
import dev.nimbus.kvm.fd.KvmVmFd;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.management.ManagementFactory;
import java.util.OptionalLong;
import java.util.function.Function;
import java.util.stream.Stream;

import static dev.nimbus.kvm.abi.KvmStructs.IRQ_LEVEL_IRQ;
import static dev.nimbus.kvm.abi.KvmStructs.IRQ_LEVEL_LEVEL;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Setting an interrupt line allocates nothing per call: {@code IrqChip.setIrqLine} (what a device's
 * {@code IrqChipLine.set} calls) down to the filled {@code kvm_irq_level} of {@code KVM_IRQ_LINE}, measured
 * with the JVM's per-thread allocation counter. The ioctl is a {@link FakeIoctl}, so no /dev/kvm is needed
 * and what is measured is Nimbus's code: the real downcall below it is the JDK's, which can allocate a
 * slice of the errno capture segment per call depending on how the JIT inlined it (docs/performance.md).
 *
 * <p>The bound, under 100,000 bytes for 100,000 calls in the quietest of four rounds after a warm-up round, is
 * "nothing per call": one object per call would be at least 16 bytes, 1.6 MB in all (the slice this test was
 * proven against allocated 4,000,792); the slack is for one-off allocations inside the JVM (a JIT compilation,
 * a deoptimization) that do not scale with the calls.
 */
class IrqLineAllocationTest {
    private static final int CALLS = 100_000;
    /**
     * Under one byte per call on average, in the quietest of the measured rounds: a JIT compilation or a
     * deoptimization can allocate a kilobyte or so once (seen on CI: 1,264 bytes in one round), an object per
     * call would be 1.6 MB or more.
     */
    private static final long BOUND = CALLS;
    private static final int MEASURED_ROUNDS = 4;

    private static long allocatedByThisThread() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
    }

    static Stream<Named<Function<KvmVmFd, IrqChip>>> chips() {
        return Stream.of(
                Named.of("x86 PIC/IOAPIC, GSI 4 (COM1)", vm -> X86LegacyIrqChip.create(
                        new IrqChipConfig.X86Legacy(0xfffb_d000L, 0xfffb_c000L, true), vm)),
                Named.of("GICv3, SPI 4", vm -> GicV3IrqChip.create(
                        new IrqChipConfig.GicV3(0x0800_0000L, 0x080a_0000L, OptionalLong.empty(), 64), vm)),
                Named.of("AIA, APLIC source 4", vm -> AiaIrqChip.create(
                        new IrqChipConfig.Aia(0x0c00_0000L, 0x2800_0000L, 96, 255), vm, () -> 1)));
    }

    @ParameterizedTest
    @MethodSource("chips")
    void settingALineAllocatesNothingPerCall(Function<KvmVmFd, IrqChip> create) {
        FakeIoctl ioctl = new FakeIoctl();
        IrqChip chip = create.apply(ioctl.vm());
        long levels = 0;
        long least = Long.MAX_VALUE;
        for (int round = 0; round <= MEASURED_ROUNDS; round++) {  // round 0 warms up (class loading, first-call paths, JIT)
            long before = allocatedByThisThread();
            for (int i = 0; i < CALLS; i++) {
                chip.setIrqLine(4, (i & 1) == 0);
                levels += ioctl.lastArg().get(JAVA_INT, IRQ_LEVEL_LEVEL);
            }
            long allocated = allocatedByThisThread() - before;
            if (round > 0) {
                least = Math.min(least, allocated);
            }
        }
        assertThat(least).as("bytes allocated by %d line sets (the quietest of %d rounds)", CALLS, MEASURED_ROUNDS)
                .isLessThan(BOUND);
        assertThat(ioctl.lastRequest()).isEqualTo(KvmIoctls.KVM_IRQ_LINE);
        assertThat(levels).isEqualTo((long) CALLS * (MEASURED_ROUNDS + 1) / 2);  // every other set was high
        assertThat(ioctl.lastArg().get(JAVA_INT, IRQ_LEVEL_IRQ)).isNotZero();
    }
}
