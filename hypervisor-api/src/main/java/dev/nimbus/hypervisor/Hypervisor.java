package dev.nimbus.hypervisor;

import java.util.Set;

/**
 * A hypervisor backend ({@code kvm}, {@code mshv}): the entry point a backend module offers through
 * {@link java.util.ServiceLoader}. Implementations have a public no-argument constructor that does no
 * I/O; the device is opened by {@link #availability()} or {@link #createVm}.
 *
 * <p>Contract shared with the conformance kit:
 * <ul>
 *   <li>{@link #availability()} never throws; when the backend cannot work here it says why, naming the
 *       missing device or permission.</li>
 *   <li>{@link #createVm} on an unusable backend throws {@link HypervisorException} with that same reason.</li>
 *   <li>Every object a backend hands out ({@link Vm}, {@link Vcpu}) owns its kernel resources and releases
 *       them on {@code close()}; closing a VM closes its vCPUs.</li>
 * </ul>
 */
public interface Hypervisor {
    /** The name used to select this backend: {@code --hypervisor NAME}. Lower case. */
    String name();

    /** Whether this backend can run VMs on this host, and why not. Cheap enough to call at start-up. */
    Availability availability();

    /** The architectures this backend supports in principle (the host's must be among them to run). */
    Set<Arch> architectures();

    /** The optional features this host's hypervisor offers. Empty when {@link #availability()} is unusable. */
    Set<Capability> capabilities();

    /** The most vCPUs one VM may have on this host (at least 1 when usable). */
    int maxVcpus();

    /**
     * The ioctl requests this backend makes on a VM's and its vCPUs' descriptors once the VM is built and
     * its vCPUs run (running, registers, interrupts, irqfd and ioeventfd changes, routes): what a vCPU
     * thread's seccomp filter lets through. Empty for a backend that cannot run VMs.
     */
    Set<Long> runtimeIoctls();

    /** Creates an empty VM: no memory, no vCPUs, no interrupt controller yet. */
    Vm createVm(VmOptions options);
}
