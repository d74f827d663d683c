package dev.nimbus.vmm.sandbox;

import dev.nimbus.host.Seccomp.ThreadKind;
import dev.nimbus.host.SeccompFilter;
import dev.nimbus.hypervisor.Hypervisor;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.ServiceLoader;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Each kind of thread gets what its work takes and nothing an attacker who took it over would want: no new
 * processes, no programs, no sockets of its own, no other process's memory; a vCPU's ioctls are the
 * backend's running ones and a tap's offloads, not the ones that make VMs or taps.
 */
class SyscallPolicyTest {
    private static final long KVM_RUN = 0xae80L;
    private static final long KVM_CREATE_VM = 0xae01L;
    private static final long KVM_IRQFD = 0x4020ae76L;
    private static final long KVM_SET_USER_MEMORY_REGION = 0x4020ae46L;
    private static final long TUNSETIFF = 0x400454caL;
    private static final long TUNSETOFFLOAD = 0x400454d0L;

    private final Map<ThreadKind, SeccompFilter> filters = SyscallPolicy.filters(ServiceLoader.load(Hypervisor.class).stream()
            .map(ServiceLoader.Provider::get).filter(h -> h.name().equals("kvm")).findFirst().orElseThrow());

    @Test
    void everyKindHasAFilter() {
        assertThat(filters).containsOnlyKeys(ThreadKind.values());
    }

    @Test
    void noThreadMayStartAProgramOrReachOutside() {
        for (SeccompFilter f : filters.values()) {
            for (String call : new String[] {"execve", "execveat", "fork", "vfork", "ptrace", "process_vm_readv",
                    "process_vm_writev", "socket", "connect", "bind", "mount", "umount2", "unshare", "setns", "setuid",
                    "bpf", "kexec_load", "init_module", "finit_module", "keyctl", "perf_event_open", "userfaultfd", "kill"}) {
                assertThat(f.allows(call, 0, 0, 0, 0, 0, 0)).as("%s: %s", f.name(), call).isFalse();
            }
            assertThat(f.allows("clone", 0x4111L)).as("%s: clone for a process", f.name()).isFalse();
            assertThat(f.allows("clone", 0x3d0f00L)).as("%s: clone for a thread", f.name()).isTrue();
        }
    }

    @Test
    void aVcpuRunsAndRoutesButMakesNothing() {
        SeccompFilter vcpu = filters.get(ThreadKind.VCPU);
        assertThat(vcpu.allows("ioctl", 9, KVM_RUN)).isTrue();
        assertThat(vcpu.allows("ioctl", 9, KVM_IRQFD)).isTrue();
        assertThat(vcpu.allows("ioctl", 9, TUNSETOFFLOAD)).isTrue();
        assertThat(vcpu.allows("ioctl", 9, KVM_CREATE_VM)).isFalse();
        assertThat(vcpu.allows("ioctl", 9, KVM_SET_USER_MEMORY_REGION)).isFalse();
        assertThat(vcpu.allows("ioctl", 9, TUNSETIFF)).isFalse();
    }

    @Test
    void onlyTheApiServesSocketsAndOnlyAcceptedOnes() {
        assertThat(filters.get(ThreadKind.API).allows("accept4")).isTrue();
        assertThat(filters.get(ThreadKind.API).allows("ioctl", 9, KVM_RUN)).isFalse();
        assertThat(filters.get(ThreadKind.VCPU).allows("accept4")).isFalse();
        assertThat(filters.get(ThreadKind.WORKER).allows("accept4")).isFalse();
        assertThat(filters.get(ThreadKind.WORKER).allows("fallocate")).isTrue();
    }
}
