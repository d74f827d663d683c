package dev.nimbus.devices.virtio.net;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A network namespace private to a test: one platform thread that called {@code unshare(CLONE_NEWNET)}
 * (namespaces belong to the task, so only this thread is moved), on which the test creates its tap, sets
 * addresses and opens sockets. Descriptors made there keep working from any thread, and the namespace
 * lives as long as one of them is open, so nothing a test sends reaches the host's own network.
 *
 * <p>When the host cannot give one (no /dev/net/tun, no CAP_SYS_ADMIN for unshare), the test fails with
 * the reason under {@code CI=true} and is skipped otherwise: CI must never pass by not running it.
 */
public final class NetNamespace implements AutoCloseable {
    private static final int CLONE_NEWNET = 0x4000_0000;
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle UNSHARE = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("unshare").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT), Linker.Option.captureCallState("errno"));

    private final ExecutorService thread =
            Executors.newSingleThreadExecutor(r -> Thread.ofPlatform().name("test netns").daemon().unstarted(r));

    private NetNamespace() {}

    /** A fresh namespace with IPv6 off (so the kernel sends nothing of its own on the test's tap). */
    public static NetNamespace create() {
        if (!Files.exists(Path.of("/dev/net/tun"))) {
            unavailable("/dev/net/tun is missing (load the tun module)");
        }
        NetNamespace ns = new NetNamespace();
        int errno = ns.call(() -> {
            try (var arena = java.lang.foreign.Arena.ofConfined()) {
                MemorySegment capture = arena.allocate(CAPTURE);
                int r;
                try {
                    r = (int) UNSHARE.invokeExact(capture, CLONE_NEWNET);
                } catch (Throwable t) {
                    throw new IllegalStateException(t);
                }
                return r == 0 ? 0 : (int) ERRNO.get(capture, 0L);
            }
        });
        if (errno != 0) {
            ns.close();
            unavailable("unshare(CLONE_NEWNET) failed with errno " + errno + " (needs CAP_SYS_ADMIN)");
        }
        ns.call(() -> {
            for (String conf : new String[] {"all", "default"}) {
                Path p = Path.of("/proc/sys/net/ipv6/conf", conf, "disable_ipv6");
                if (Files.exists(p)) {
                    Files.writeString(p, "1");
                }
            }
            return null;
        });
        return ns;
    }

    /** Fails under CI=true, skips elsewhere. */
    public static void unavailable(String why) {
        String message = "virtio-net tests need a real tap in a private network namespace: " + why;
        if ("true".equals(System.getenv("CI"))) {
            Assertions.fail(message);
        }
        Assumptions.abort(message);
    }

    /** Runs {@code work} on the namespace's thread. */
    public <T> T call(Callable<T> work) {
        try {
            return thread.submit(work).get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            if (e.getCause() instanceof Error err) {
                throw err;
            }
            throw new IllegalStateException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        thread.shutdownNow();
    }
}
