package dev.nimbus.host;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Map;

/**
 * The process {@link SeccompTest} runs: {@code SeccompChild MODE WHAT} enforces {@link SeccompFilter#javaThread()}
 * for every kind, lets one thread join as a vCPU thread, and has it do {@code WHAT}: {@code socket} (a call no
 * filter allows), {@code fork} (start a process: a clone without CLONE_THREAD), {@code ioctl} (FIONREAD,
 * allowed, then TIOCGWINSZ, not), {@code nothing}. Prints what it saw, one fact a line.
 */
public final class SeccompChild {
    public static void main(String[] args) throws Exception {
        Seccomp.Mode mode = Seccomp.Mode.valueOf(args[0]);
        Map<Seccomp.ThreadKind, SeccompFilter> filters = new EnumMap<>(Seccomp.ThreadKind.class);
        for (Seccomp.ThreadKind k : Seccomp.ThreadKind.values()) {
            filters.put(k, SeccompFilter.javaThread());
        }
        Seccomp.enforce(mode, filters);
        Thread t = Thread.ofPlatform().name("probe-vcpu").start(() -> {
            try {
                Seccomp.join(Seccomp.ThreadKind.VCPU);
                System.out.println("joined: " + statusSeccomp("thread-self"));
                // a thread from a filtered thread: clone3 fails as ENOSYS, glibc falls back to clone
                Thread inner = Thread.ofPlatform().name("probe-inner").start(
                        () -> System.out.println("inner thread: " + Seccomp.threadFilterMode()));
                inner.join();
                // a thread of another kind made here would be held to this thread's list too: refused
                Thread other = Thread.ofPlatform().name("probe-worker").start(() -> {
                    try {
                        Seccomp.join(Seccomp.ThreadKind.WORKER);
                        System.out.println("other kind: joined");
                    } catch (IllegalStateException e) {
                        System.out.println("other kind: " + e.getMessage());
                    }
                });
                other.join();
                switch (args[1]) {
                    case "socket" -> Seccomp.callSomethingForbidden();
                    case "fork" -> System.out.println("child exit: " + new ProcessBuilder("true").start().waitFor());
                    case "ioctl" -> {
                        try (Arena a = Arena.ofConfined()) {
                            MemorySegment buf = a.allocate(64);
                            System.out.println("FIONREAD: " + LibC.ioctlErrno(0, 0x541b, buf));
                            System.out.println("TIOCGWINSZ: " + LibC.ioctlErrno(0, 0x5413, buf));
                        }
                    }
                    default -> { }
                }
                System.out.println("after the call");
            } catch (Exception e) {
                System.out.println("failed: " + e);
            }
        });
        t.join();
        Thread.sleep(500); // in log mode the monitor logs after the call has gone on: let it, before the JVM ends
        System.out.println("main thread: " + Seccomp.threadFilterMode());
    }

    private static String statusSeccomp(String task) throws Exception {
        return Files.readAllLines(Path.of("/proc/" + task + "/status")).stream()
                .filter(l -> l.startsWith("Seccomp:")).findFirst().orElse("none").replaceAll("\\s+", " ");
    }
}
