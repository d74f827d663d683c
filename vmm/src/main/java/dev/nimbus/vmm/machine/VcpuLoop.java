package dev.nimbus.vmm.machine;

import dev.nimbus.host.Landlock;
import dev.nimbus.host.Seccomp;
import dev.nimbus.devices.bus.Buses;
import dev.nimbus.host.SyscallException;
import dev.nimbus.hypervisor.HypervisorException;
import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.VcpuExit;
import dev.nimbus.hypervisor.arch.ArchPlatform;
import dev.nimbus.hypervisor.arch.BootPlan;

import java.lang.System.Logger.Level;
import java.util.concurrent.CountDownLatch;
import java.util.function.IntConsumer;

/**
 * The life of one vCPU on its own platform thread: put it into its start state, wait until every vCPU is
 * ready, then run, match the exit, dispatch I/O to the buses, repeat, until the machine stops.
 */
final class VcpuLoop implements Runnable {
    private static final System.Logger LOG = System.getLogger(VcpuLoop.class.getName());

    private final Vcpu vcpu;
    private final int index;
    private final BootPlan plan;
    private final ArchPlatform arch;
    private final Buses buses;
    private final IntConsumer endOfInterrupt;
    private final CountDownLatch ready;
    private final Machine machine;

    /** {@code endOfInterrupt} takes the vector of each {@link VcpuExit.IoapicEoi} (the userspace IOAPIC's). */
    VcpuLoop(Vcpu vcpu, int index, BootPlan plan, ArchPlatform arch, Buses buses, IntConsumer endOfInterrupt,
             CountDownLatch ready, Machine machine) {
        this.vcpu = vcpu;
        this.index = index;
        this.plan = plan;
        this.arch = arch;
        this.buses = buses;
        this.endOfInterrupt = endOfInterrupt;
        this.ready = ready;
        this.machine = machine;
    }

    @Override
    public void run() {
        boolean setUp = false;
        try {
            plan.setupVcpu(vcpu, index);
            setUp = true;
        } catch (RuntimeException e) {
            machine.exit(new MachineExit.Failed("vCPU " + index + ": set-up failed: " + e.getMessage()));
        } finally {
            ready.countDown();
        }
        if (!setUp) {
            machine.vcpuEnded();
            return;
        }
        try {
            ready.await();
            Landlock.joinEnforced(); // made by the control thread after it enforced: no second layer
            Seccomp.join(Seccomp.ThreadKind.VCPU); // its set-up done: from here on, only what a running vCPU needs
            loop();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (HypervisorException | SyscallException e) {
            fail("vCPU " + index + ": " + e.getMessage());
        } catch (RuntimeException e) {
            // a bug in a device or in Nimbus itself: the VM stops, the process does not die with it
            LOG.log(Level.ERROR, "vCPU " + index + " stopped by an unexpected error", e);
            fail("vCPU " + index + ": unexpected error: " + e);
        } finally {
            machine.vcpuEnded();
        }
    }

    private void loop() throws InterruptedException {
        while (!machine.stopping()) {
            machine.parkIfPaused(index);
            if (machine.stopping()) {
                return;
            }
            VcpuExit exit = vcpu.run();
            switch (exit) {
                case VcpuExit.IoIn in -> buses.handle(in);
                case VcpuExit.IoOut out -> buses.handle(out);
                case VcpuExit.MmioRead read -> buses.handle(read);
                case VcpuExit.MmioWrite write -> buses.handle(write);
                case VcpuExit.IoapicEoi eoi -> endOfInterrupt.accept(eoi.vector());
                case VcpuExit.Interrupted ignored -> {
                    // kicked: the loop condition decides whether to go on
                }
                case VcpuExit.Halt ignored -> {
                    // with an in-kernel interrupt controller the hypervisor handles HLT/WFI itself; a halt
                    // that reaches us means this vCPU waits for nothing more
                    LOG.log(Level.DEBUG, "vCPU {0} halted", index);
                    return;
                }
                case VcpuExit.SystemEvent e -> {
                    switch (e.kind()) {
                        case POWER_OFF -> machine.exit(new MachineExit.PowerOff("vCPU " + index + ": system event power-off"));
                        case RESET -> machine.exit(new MachineExit.Reset("vCPU " + index + ": system event reset"));
                        case CRASH -> fail("vCPU " + index + ": the guest reported a crash (system event " + e.rawType() + ")");
                        case OTHER -> LOG.log(Level.WARNING, "vCPU {0}: ignoring system event type {1}", index, e.rawType());
                    }
                }
                case VcpuExit.SbiCall call -> {
                    // nothing here implements an SBI extension KVM forwards: say so to the guest, which goes on
                    LOG.log(Level.DEBUG, "vCPU {0}: SBI extension 0x{1} function {2} answered not supported", index,
                            Long.toHexString(call.extension()), call.function());
                    call.respond(VcpuExit.SbiCall.ERR_NOT_SUPPORTED, 0);
                }
                case VcpuExit.Shutdown s -> fail("vCPU " + index + ": the guest shut down the CPU (triple fault): " + s.detail());
                case VcpuExit.InternalError e -> fail("vCPU " + index + ": hypervisor internal error: " + e.detail());
                case VcpuExit.Unknown u -> fail("vCPU " + index + ": unhandled exit reason " + u.reason() + " (" + u.detail() + ")");
            }
        }
    }

    private void fail(String message) {
        String state;
        try {
            state = arch.describeVcpuState(vcpu);
        } catch (RuntimeException e) {
            state = "registers unavailable: " + e.getMessage();
        }
        machine.exit(new MachineExit.Failed(message + "\n" + state));
    }
}
