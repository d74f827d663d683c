package dev.nimbus.conformance;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Runs conformance-tests/l1/smoke/KvmSmoke.java (a single-file Java program that drives /dev/kvm through
 * java.lang.foreign) on the JVM running this test, so on the architecture of that JVM, and checks what the guest
 * did: it wrote its message to a port (x86-64) or an MMIO address (AArch64, riscv64) and then stopped.
 */
@RequiresKvm
class KvmSmokeTest {

    @Test
    void smokeGuestWritesItsMessageThroughKvmAndStops() throws Exception {
        Path program = l1Dir().resolve("smoke/KvmSmoke.java");
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process process = new ProcessBuilder(List.of(java.toString(), "--enable-native-access=ALL-UNNAMED", program.toString()))
                .redirectErrorStream(true)
                .start();
        process.getOutputStream().close();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        // a guard against a hung guest, not a timing check: TCG-emulated machines are slow
        boolean ended = process.waitFor(10, TimeUnit.MINUTES);
        if (!ended) process.destroyForcibly();

        String arch = System.getProperty("os.arch");
        String stop = arch.equals("aarch64") || arch.equals("riscv64") ? "SYSTEM_EVENT shutdown" : "HLT";
        assertThat(ended).as("KvmSmoke ended; output:%n%s", output).isTrue();
        assertThat(output)
                .contains("KvmSmoke: " + arch + ", KVM API version 12")
                .contains("guest wrote: \"Hello from a KVM guest\\n\"")
                .contains("guest stopped: " + stop);
        assertThat(process.exitValue()).as("exit status; output:%n%s", output).isZero();
    }

    /** conformance-tests/l1: from the system property the KVM test runner sets, else relative to the module. */
    static Path l1Dir() {
        String configured = System.getProperty("nimbus.l1.dir");
        if (configured != null) return Path.of(configured);
        for (Path candidate : List.of(Path.of("l1"), Path.of("conformance-tests", "l1"))) {
            if (Files.isDirectory(candidate.resolve("smoke"))) return candidate.toAbsolutePath();
        }
        throw new IllegalStateException("cannot find conformance-tests/l1 from " + Path.of("").toAbsolutePath());
    }
}
