package dev.nimbus.host;

import dev.nimbus.testsupport.HostTools;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * seccomp on the real kernel, in a process of its own ({@link SeccompChild}) since a filter cannot be taken
 * back: a joined thread is filtered (and the threads it makes), the others are not; a forbidden call ends the
 * process with exit 159 and a line naming the call, or, in log mode, is logged once and runs; a filtered
 * thread cannot start a process; ioctl is filtered by request. The constants are the host headers'.
 */
@Tag("host-kernel") // QEMU user mode (the cross-architecture runs) filters its own calls, not the guest's
class SeccompTest {
    @TempDir
    Path dir;

    private record Run(int exit, String out) {}

    private Run child(String mode, String what) throws Exception {
        Path out = dir.resolve(mode + "-" + what + ".out");
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(javaBin, "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                SeccompChild.class.getName(), mode, what).redirectErrorStream(true).redirectOutput(out.toFile()).start();
        boolean ended = p.waitFor(60, TimeUnit.SECONDS);
        p.destroyForcibly();
        String text = Files.readString(out, StandardCharsets.UTF_8);
        assertThat(ended).as("the child ended: %s", text).isTrue();
        return new Run(p.exitValue(), text);
    }

    @Test
    void aForbiddenCallEndsTheProcessNamingIt() throws Exception {
        Run r = child("ENFORCE", "socket");
        assertThat(r.exit()).as(r.out()).isEqualTo(Seccomp.EXIT_FORBIDDEN);
        assertThat(r.out()).contains("joined: Seccomp: 2", "inner thread: 2")
                .containsPattern("nimbus: seccomp: the vCPU thread 'probe-vcpu' \\(tid \\d+, now 'probe-vcpu'\\) made the system call "
                        + "socket \\(\\d+, arguments 0x2, ")
                .doesNotContain("after the call", "main thread:");
    }

    @Test
    void unfilteredThreadsStayUnfilteredAndAllowedCallsRun() throws Exception {
        Run r = child("ENFORCE", "nothing");
        assertThat(r.exit()).as(r.out()).isZero();
        assertThat(r.out()).contains("joined: Seccomp: 2", "inner thread: 2", "after the call", "main thread: 0",
                "other kind: a virtio worker thread ('probe-worker') was made by a vCPU thread and inherited its seccomp filter")
                .doesNotContain("seccomp:");
    }

    @Test
    void aFilteredThreadCannotStartAProcess() throws Exception {
        Run r = child("ENFORCE", "fork");
        assertThat(r.exit()).as(r.out()).isEqualTo(Seccomp.EXIT_FORBIDDEN);
        // the first call outside the list ends it: the JDK's launcher sets up SIGCHLD before it clones
        assertThat(r.out()).containsPattern("nimbus: seccomp: the vCPU thread 'probe-vcpu' .* made the system call "
                + "(rt_sigaction|pipe2|clone) ").doesNotContain("child exit");
    }

    @Test
    void logModeLogsEachCallOnceAndLetsItRun() throws Exception {
        Run r = child("LOG", "fork");
        assertThat(r.exit()).as(r.out()).isZero();
        assertThat(r.out()).contains("child exit: 0", "after the call", "main thread: 0");
        // the clone that starts the process (CLONE_VM | CLONE_VFORK | SIGCHLD, no CLONE_THREAD), once; then the
        // new process, which inherits the filter, is heard making its execve
        assertThat(r.out().lines().filter(l -> l.contains("seccomp (log)") && l.contains("system call clone ("))).hasSize(1);
        assertThat(r.out()).contains("arguments 0x4111, ").containsPattern("system call execve \\(");
    }

    @Test
    void ioctlIsFilteredByRequest() throws Exception {
        Run r = child("LOG", "ioctl");
        assertThat(r.exit()).as(r.out()).isZero();
        List<String> logged = r.out().lines().filter(l -> l.contains("seccomp (log)")).toList();
        assertThat(logged).as(r.out()).hasSize(1);
        assertThat(logged.getFirst()).contains("system call ioctl (", "arguments 0x0, 0x5413, ");
    }

    @Test
    void constantsAndLayoutsMatchTheHostHeaders() throws Exception {
        String gccTarget = HostTools.run("gcc", "-dumpmachine").trim();
        String jvmArch = System.getProperty("os.arch").replace("amd64", "x86_64");
        assumeTrue(gccTarget.startsWith(jvmArch + "-"), "gcc builds for " + gccTarget + ", the JVM runs on " + jvmArch);
        Map<String, Long> ours = new LinkedHashMap<>();
        ours.put("SECCOMP_SET_MODE_FILTER", (long) Seccomp.SECCOMP_SET_MODE_FILTER);
        ours.put("SECCOMP_FILTER_FLAG_LOG", (long) Seccomp.SECCOMP_FILTER_FLAG_LOG);
        ours.put("SECCOMP_FILTER_FLAG_NEW_LISTENER", (long) Seccomp.SECCOMP_FILTER_FLAG_NEW_LISTENER);
        ours.put("SECCOMP_RET_KILL_PROCESS", Integer.toUnsignedLong(Seccomp.RET_KILL_PROCESS));
        ours.put("SECCOMP_RET_ERRNO", (long) Seccomp.RET_ERRNO);
        ours.put("SECCOMP_RET_USER_NOTIF", (long) Seccomp.RET_USER_NOTIF);
        ours.put("SECCOMP_RET_LOG", (long) Seccomp.RET_LOG);
        ours.put("SECCOMP_RET_ALLOW", (long) Seccomp.RET_ALLOW);
        ours.put("SECCOMP_RET_DATA", (long) Seccomp.RET_DATA);
        ours.put("SECCOMP_USER_NOTIF_FLAG_CONTINUE", (long) Seccomp.SECCOMP_USER_NOTIF_FLAG_CONTINUE);
        ours.put("PR_GET_SECCOMP", (long) Seccomp.PR_GET_SECCOMP);
        ours.put("PR_SET_NO_NEW_PRIVS", (long) Seccomp.PR_SET_NO_NEW_PRIVS);
        ours.put("sizeof(struct seccomp_notif)", Seccomp.NOTIF_SIZE);
        ours.put("sizeof(struct seccomp_notif_resp)", Seccomp.NOTIF_RESP_SIZE);
        ours.put("offsetof(struct seccomp_notif, data.nr)", 16L);
        ours.put("offsetof(struct seccomp_notif, data.args)", 32L);
        ours.put("offsetof(struct seccomp_notif_resp, flags)", 20L);
        ours.put("offsetof(struct seccomp_data, arch)", (long) SeccompFilter.DATA_ARCH);
        ours.put("offsetof(struct seccomp_data, args)", (long) SeccompFilter.DATA_ARGS);
        ours.put("SECCOMP_IOCTL_NOTIF_RECV", Seccomp.SECCOMP_IOCTL_NOTIF_RECV);
        ours.put("SECCOMP_IOCTL_NOTIF_SEND", Seccomp.SECCOMP_IOCTL_NOTIF_SEND);
        ours.put("sizeof(struct sock_fprog)", Seccomp.SOCK_FPROG_SIZE);
        ours.put("sizeof(struct sock_filter)", 8L);
        ours.put("BPF_LD|BPF_W|BPF_ABS", (long) SeccompFilter.LD_W_ABS);
        ours.put("BPF_JMP|BPF_JEQ|BPF_K", (long) SeccompFilter.JEQ_K);
        ours.put("BPF_ALU|BPF_AND|BPF_K", (long) SeccompFilter.AND_K);
        ours.put("BPF_RET|BPF_K", (long) SeccompFilter.RET_K);
        ours.put("BPF_MAXINSNS", (long) SeccompFilter.MAX_INSNS);
        ours.put("AUDIT_ARCH_X86_64", Integer.toUnsignedLong(SyscallTable.AUDIT_ARCH_X86_64));
        ours.put("AUDIT_ARCH_AARCH64", Integer.toUnsignedLong(SyscallTable.AUDIT_ARCH_AARCH64));
        ours.put("AUDIT_ARCH_RISCV64", Integer.toUnsignedLong(SyscallTable.AUDIT_ARCH_RISCV64));
        ours.put("CLONE_THREAD", SeccompFilter.CLONE_THREAD);
        ours.put("TCGETS", 0x5401L);
        ours.put("FIONREAD", 0x541bL);
        ours.put("FIONBIO", 0x5421L);
        ours.put("FIOCLEX", 0x5451L);
        ours.put("PR_SET_NAME", 15L);
        ours.put("PR_GET_NAME", 16L);
        ours.put("PR_SET_VMA", 0x53564d41L);
        StringBuilder c = new StringBuilder("""
                #define _GNU_SOURCE
                #include <stdio.h>
                #include <stddef.h>
                #include <sched.h>
                #include <sys/ioctl.h>
                #include <sys/prctl.h>
                #include <linux/audit.h>
                #include <linux/filter.h>
                #include <linux/seccomp.h>
                #ifndef PR_SET_VMA
                #define PR_SET_VMA 0x53564d41
                #endif
                int main(void) {
                """);
        for (String name : ours.keySet()) {
            String expr = name.startsWith("offsetof(struct seccomp_notif, ") ? "offsetof(struct seccomp_notif, "
                    + name.substring("offsetof(struct seccomp_notif, ".length())
                    : name.replace("|", " | ");
            c.append("  printf(\"%s=%llu\\n\", \"").append(name).append("\", (unsigned long long) (").append(expr).append("));\n");
        }
        c.append("  return 0;\n}\n");
        Path src = Files.writeString(dir.resolve("seccomp.c"), c.toString());
        HostTools.run(dir, List.of("gcc", "-o", dir.resolve("seccomp").toString(), src.toString()));
        Map<String, Long> theirs = new LinkedHashMap<>();
        for (String line : HostTools.run(dir, List.of(dir.resolve("seccomp").toString())).lines().toList()) {
            theirs.put(line.substring(0, line.indexOf('=')), Long.parseUnsignedLong(line.substring(line.indexOf('=') + 1)));
        }
        assertThat(ours).isEqualTo(theirs);
    }
}
