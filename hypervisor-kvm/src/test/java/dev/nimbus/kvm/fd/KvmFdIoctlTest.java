package dev.nimbus.kvm.fd;

import dev.nimbus.host.NativeIoctl;
import dev.nimbus.host.Errno;
import dev.nimbus.host.SyscallException;
import dev.nimbus.kvm.abi.KvmConstants;
import dev.nimbus.kvm.abi.KvmIoctls;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.nimbus.kvm.abi.KvmStructs.IRQ_LEVEL_IRQ;
import static dev.nimbus.kvm.abi.KvmStructs.IRQ_LEVEL_LEVEL;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The one ioctl path of the descriptor classes: EINTR repeated everywhere but KVM_RUN, errors named. */
class KvmFdIoctlTest {
    @Test
    void anIoctlInterruptedBeforeItDidAnythingIsRepeated() {
        FakeIoctl ioctl = new FakeIoctl(-Errno.EINTR, -Errno.EINTR, 0);
        KvmVmFd vm = ioctl.vm();

        vm.irqLine(4, true);

        assertThat(ioctl.calls()).isEqualTo(3);
        assertThat(ioctl.lastRequest()).isEqualTo(KvmIoctls.KVM_IRQ_LINE);
        assertThat(ioctl.lastArg().get(JAVA_INT, IRQ_LEVEL_IRQ)).isEqualTo(4);
        assertThat(ioctl.lastArg().get(JAVA_INT, IRQ_LEVEL_LEVEL)).isEqualTo(1);
    }

    @Test
    void anIntegerArgumentIoctlIsRepeatedOnEintrToo() {
        FakeIoctl ioctl = new FakeIoctl(-Errno.EINTR, 1);

        assertThat(ioctl.vm().checkExtension(KvmConstants.KVM_CAP_IRQFD)).isEqualTo(1);
        assertThat(ioctl.calls()).isEqualTo(2);
    }

    @Test
    void kvmRunReturnsEintrAtOnceBecauseThatIsHowAKickArrives() {
        FakeIoctl ioctl = new FakeIoctl(-Errno.EINTR, 0);
        KvmVcpuFd vcpu = ioctl.vcpu(Arena.ofAuto().allocate(4096, 4096));

        assertThat(vcpu.run()).isEqualTo(-Errno.EINTR);
        assertThat(ioctl.calls()).isEqualTo(1);
        assertThat(ioctl.lastRequest()).isEqualTo(KvmIoctls.KVM_RUN);
    }

    @Test
    void anErrorThrowsNamingTheIoctlAndTheErrno() {
        FakeIoctl ioctl = new FakeIoctl(-Errno.EINVAL);

        assertThatThrownBy(() -> ioctl.vm().irqLine(99, false))
                .isInstanceOf(SyscallException.class)
                .hasMessageContaining("KVM_IRQ_LINE")
                .hasMessageContaining("EINVAL");
    }

    @Test
    void anExpectedErrnoIsAnAnswerAfterEintrIsRepeated() {
        FakeIoctl ioctl = new FakeIoctl(-Errno.EINTR, -Errno.ENODEV);

        assertThat(ioctl.vm().canCreateDevice(KvmConstants.KVM_DEV_TYPE_ARM_VGIC_ITS)).isFalse();
        assertThat(ioctl.calls()).isEqualTo(2);
    }

    @Test
    void aOneRegFailureNamesTheRegister() {
        FakeIoctl ioctl = new FakeIoctl(-Errno.ENOENT);
        KvmVcpuFd vcpu = ioctl.vcpu(Arena.ofAuto().allocate(4096, 4096));

        assertThatThrownBy(() -> vcpu.getOneReg(0x6030_0000_0010_0000L))
                .isInstanceOf(SyscallException.class)
                .hasMessageContaining("KVM_GET_ONE_REG(0x6030000000100000)");
    }

    @Test
    void aClosedDescriptorRefusesTheCallNamingIt() {
        FakeIoctl ioctl = new FakeIoctl();
        KvmVmFd vm = ioctl.vm();
        vm.close();

        assertThatThrownBy(() -> vm.irqLine(4, true)).hasMessageContaining("KVM_IRQ_LINE").hasMessageContaining("closed");
        assertThat(ioctl.calls()).isZero();
    }

    @Test
    void theIrqLineStructIsExactlyIrqAndLevel() {
        FakeIoctl ioctl = new FakeIoctl();
        KvmVmFd vm = ioctl.vm();

        vm.irqLine(0x0100_0020, false);  // an AArch64 SPI encoding: type 1, irq 32
        MemorySegment s = ioctl.lastArg();

        assertThat(s.get(JAVA_INT, IRQ_LEVEL_IRQ)).isEqualTo(0x0100_0020);
        assertThat(s.get(JAVA_INT, IRQ_LEVEL_LEVEL)).isZero();
    }

    /**
     * Device threads raise lines at once: each call's struct must be its own from filling to the ioctl.
     * The kernel stand-in reads the struct, yields so another caller can run, and reads it again.
     */
    @Test
    void concurrentCallersEachPassTheirOwnStruct() throws Exception {
        int threads = 4;
        int calls = 20_000;
        ThreadLocal<Integer> ownIrq = new ThreadLocal<>();
        AtomicInteger mixups = new AtomicInteger();
        AtomicInteger made = new AtomicInteger();
        NativeIoctl kernel = new NativeIoctl() {
            @Override
            public int ioctl(int fd, long request, MemorySegment arg) {
                int irq = arg.get(JAVA_INT, IRQ_LEVEL_IRQ);
                Thread.yield();
                if (irq != ownIrq.get() || arg.get(JAVA_INT, IRQ_LEVEL_IRQ) != irq) {
                    mixups.incrementAndGet();
                }
                made.incrementAndGet();
                return 0;
            }

            @Override
            public int ioctl(int fd, long request, long arg) {
                throw new AssertionError("KVM_IRQ_LINE takes a pointer");
            }
        };
        KvmVmFd vm = new KvmVmFd(-1, 0, kernel);
        List<Thread> started = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int irq = t + 1;
            started.add(Thread.ofPlatform().start(() -> {
                ownIrq.set(irq);
                for (int i = 0; i < calls; i++) {
                    vm.irqLine(irq, (i & 1) == 0);
                }
            }));
        }
        for (Thread t : started) {
            t.join();
        }

        assertThat(made.get()).isEqualTo(threads * calls);
        assertThat(mixups.get()).as("calls that saw another thread's struct").isZero();
    }
}
