package dev.nimbus.conformance;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

class HangDiagnosticsTest {
    @Test
    void aHungChildJvmIsDumpedWithTheFrameItWaitsIn(@TempDir Path dir) throws Exception {
        Path source = Files.writeString(dir.resolve("Stuck.java"), """
                class Stuck {
                    public static void main(String[] args) throws Exception {
                        System.out.println("up");
                        waitHere();
                    }
                    static void waitHere() throws Exception {
                        Thread.sleep(600_000);
                    }
                }
                """);
        Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), source.toString())
                .redirectErrorStream(true).start();
        try {
            assertThat(new String(child.getInputStream().readNBytes(3))).isEqualTo("up\n");

            List<Path> files = HangDiagnostics.report("HangDiagnosticsTest.example", "main", dir.resolve("dumps"));

            assertThat(files).hasSize(1);
            assertThat(files.getFirst().getFileName().toString()).isEqualTo("hang-HangDiagnosticsTest.example-" + child.pid() + ".txt");
            assertThat(Files.readString(files.getFirst())).contains("Stuck.java").contains("Stuck.waitHere").contains("java.lang.Thread.sleep");
        } finally {
            child.destroyForcibly();
            child.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
