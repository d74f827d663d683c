package dev.nimbus.conformance;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.PreInterruptCallback;
import org.junit.jupiter.api.extension.PreInterruptContext;

/**
 * Part of {@link RequiresKvm}: when a KVM test runs past its time limit (the L1 runs set one for every test,
 * {@code conformance-tests/l1/kvm-tests}), JUnit interrupts it; just before, this takes a thread dump of every
 * process the test started (a {@code nimbus} VMM, as a user runs it) with {@code jcmd}, prints it and writes it
 * to {@code <nimbus.dumps.dir>/hang-<test>-<pid>.txt}. JUnit itself dumps the test's own JVM
 * ({@code junit.jupiter.execution.timeout.threaddump.enabled}). A hang then says where each side waited.
 */
public final class HangDiagnostics implements PreInterruptCallback {
    static final String DUMPS_DIR = "nimbus.dumps.dir";

    @Override
    public void beforeThreadInterrupt(PreInterruptContext interrupt, ExtensionContext context) {
        String test = context.getRequiredTestClass().getSimpleName() + "." + context.getTestMethod().map(m -> m.getName()).orElse("?");
        report(test, interrupt.getThreadToInterrupt().getName(), Path.of(System.getProperty(DUMPS_DIR, "target")));
    }

    /** Prints and saves in {@code dir} the thread dumps of this JVM's live child processes; the files written. */
    static List<Path> report(String test, String thread, Path dir) {
        List<ProcessHandle> children = ProcessHandle.current().descendants().filter(ProcessHandle::isAlive).toList();
        System.out.printf("HANG: %s ran past its time limit; thread %s is interrupted now; %d child process(es)%n",
                test, thread, children.size());
        List<Path> files = new java.util.ArrayList<>();
        for (ProcessHandle child : children) {
            String command = child.info().commandLine().orElse("?");
            String dump = dump(child.pid());
            System.out.printf("HANG: process %d: %s%n%s%n", child.pid(), command, dump);
            try {
                Files.createDirectories(dir);
                files.add(Files.writeString(dir.resolve("hang-" + test + "-" + child.pid() + ".txt"), command + "\n" + dump));
            } catch (IOException e) {
                System.out.println("HANG: could not save the dump in " + dir + ": " + e.getMessage());
            }
        }
        System.out.flush();
        return files;
    }

    /** {@code jcmd PID Thread.print}, or why there is none (not a JVM, no jcmd, no answer in 30 s). */
    static String dump(long pid) {
        Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
        if (!Files.isExecutable(jcmd)) {
            return "(no thread dump: " + jcmd + " is missing)";
        }
        try {
            Path out = Files.createTempFile("jcmd", ".txt");
            try {
                // jcmd attaches as the target's own user (HotSpot refuses other users, root included)
                List<String> cmd = new java.util.ArrayList<>();
                String owner = ProcessHandle.of(pid).flatMap(h -> h.info().user()).orElse(null);
                if (owner != null && !owner.equals(System.getProperty("user.name")) && Files.isExecutable(Path.of("/usr/bin/setpriv"))) {
                    int uid = (Integer) Files.getAttribute(Path.of("/proc", Long.toString(pid)), "unix:uid");
                    int gid = (Integer) Files.getAttribute(Path.of("/proc", Long.toString(pid)), "unix:gid");
                    cmd.addAll(List.of("/usr/bin/setpriv", "--reuid=" + uid, "--regid=" + gid, "--clear-groups"));
                    Files.setPosixFilePermissions(out, java.nio.file.attribute.PosixFilePermissions.fromString("rw-rw-rw-"));
                }
                cmd.addAll(List.of(jcmd.toString(), Long.toString(pid), "Thread.print"));
                Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
                if (!p.waitFor(30, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    return "(no thread dump: jcmd did not answer in 30 s)\n" + Files.readString(out);
                }
                return Files.readString(out, StandardCharsets.UTF_8);
            } finally {
                Files.deleteIfExists(out);
            }
        } catch (IOException e) {
            return "(no thread dump: " + e.getMessage() + ")";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "(no thread dump: interrupted)";
        }
    }
}
