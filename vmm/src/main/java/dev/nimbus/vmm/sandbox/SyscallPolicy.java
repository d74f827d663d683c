package dev.nimbus.vmm.sandbox;

import dev.nimbus.host.Seccomp.ThreadKind;
import dev.nimbus.host.SeccompFilter;
import dev.nimbus.host.net.Tap;
import dev.nimbus.hypervisor.Hypervisor;

import java.util.EnumMap;
import java.util.Map;

/**
 * The seccomp filter of each kind of thread Nimbus filters (docs/security.md has the table): what any Java
 * thread needs ({@link SeccompFilter#javaThread()}), and beyond it
 * <ul>
 *   <li>a vCPU thread: the backend's ioctls on a running VM ({@link Hypervisor#runtimeIoctls()}) and a tap's
 *       offload switch, which a guest driver sets from a vCPU; {@code fallocate}, as a queue notified
 *       through MMIO rather than an ioeventfd is served on the vCPU; {@code rt_sigtimedwait}, which takes a
 *       kick that arrived outside the guest off the thread before it enters again;</li>
 *   <li>a virtio worker: the backend's running ioctls too (a device that signals its first interrupt, or
 *       one whose vector the guest moved, routes it: irqfd and GSI routes) and {@code fallocate} (a disk's
 *       discard and write-zeroes punch holes);</li>
 *   <li>a REST API thread: what serving connections on an accepted Unix socket takes, and no {@code socket}.</li>
 * </ul>
 */
public final class SyscallPolicy {
    private SyscallPolicy() {}

    public static Map<ThreadKind, SeccompFilter> filters(Hypervisor hypervisor) {
        SeccompFilter base = SeccompFilter.javaThread();
        Map<ThreadKind, SeccompFilter> filters = new EnumMap<>(ThreadKind.class);
        filters.put(ThreadKind.VCPU, SeccompFilter.builder(ThreadKind.VCPU.description()).include(base)
                .allowIoctls(hypervisor.runtimeIoctls()).allowIoctls(Tap.RUNTIME_IOCTLS)
                .allow("fallocate", "rt_sigtimedwait").build());
        filters.put(ThreadKind.WORKER, SeccompFilter.builder(ThreadKind.WORKER.description()).include(base)
                .allowIoctls(hypervisor.runtimeIoctls()).allow("fallocate").build());
        filters.put(ThreadKind.API, SeccompFilter.builder(ThreadKind.API.description()).include(base)
                .allow("accept", "accept4", "recvfrom", "sendto", "recvmsg", "sendmsg", "shutdown", "getsockopt",
                        "setsockopt", "getsockname", "getpeername")
                .build());
        return filters;
    }
}
