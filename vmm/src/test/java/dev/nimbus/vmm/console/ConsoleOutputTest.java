package dev.nimbus.vmm.console;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/** A UART hands its console one byte per register write: the console must not pass each on alone. */
class ConsoleOutputTest {
    /** Counts the writes that reach the target, as a pty or socket would count system calls. */
    static final class CountingTarget extends OutputStream {
        final AtomicInteger writes = new AtomicInteger();
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        @Override
        public synchronized void write(int b) {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) {
            writes.incrementAndGet();
            bytes.write(b, off, len);
        }

        synchronized String text() {
            return bytes.toString(StandardCharsets.US_ASCII);
        }
    }

    @Test
    void aLineWrittenByteByByteReachesTheTargetInOneWrite() throws IOException {
        CountingTarget target = new CountingTarget();
        try (ConsoleOutput out = ConsoleOutput.buffering(target)) {
            for (byte b : "Debian GNU/Linux 13 nimbus ttyS0\n".getBytes(StandardCharsets.US_ASCII)) {
                out.write(b);
            }
            assertThat(target.text()).isEqualTo("Debian GNU/Linux 13 nimbus ttyS0\n");
            assertThat(target.writes.get()).isEqualTo(1);
        }
    }

    @Test
    void aPromptWithoutNewlineStillGoesOut() throws Exception {
        CountingTarget target = new CountingTarget();
        try (ConsoleOutput out = ConsoleOutput.buffering(target)) {
            for (byte b : "~ # ".getBytes(StandardCharsets.US_ASCII)) {
                out.write(b);
            }
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (!target.text().equals("~ # ") && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertThat(target.text()).isEqualTo("~ # ");
            assertThat(target.writes.get()).isEqualTo(1);
        }
    }

    @Test
    @Timeout(30)
    void aPtyConsoleBuffersWhatTheUartWrites() throws Exception {
        try (PtyConsole console = PtyConsole.open(); InputStream slave = new FileInputStream(console.path().toFile())) {
            OutputStream out = console.output();
            assertThat(out).isInstanceOf(ConsoleOutput.class).isSameAs(console.output());
            byte[] line = "login: ".getBytes(StandardCharsets.US_ASCII);
            for (byte b : line) {
                out.write(b);
            }
            byte[] got = slave.readNBytes(line.length);
            assertThat(new String(got, StandardCharsets.US_ASCII)).isEqualTo("login: ");
        }
    }
}
