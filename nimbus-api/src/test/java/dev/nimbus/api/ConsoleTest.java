package dev.nimbus.api;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The console streams of an embedded VM, fed as the VMM feeds them: a byte at a time, from another thread. */
class ConsoleTest {
    private final Console console = new Console("serial");
    private final OutputStream guest = console.guestOutput();

    private void print(String text) throws Exception {
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
            guest.write(b); // as a UART hands them over
        }
    }

    @Test
    void awaitLineReturnsTheWholeLineWithoutItsEndingAndMovesPastIt() throws Exception {
        print("Linux version 6.1\r\nNIMBUS-GUEST-UP one\r\nNIMBUS-GUEST-UP two\r\n");
        assertThat(console.awaitLine("GUEST-UP", Duration.ofSeconds(1))).isEqualTo("NIMBUS-GUEST-UP one");
        assertThat(console.awaitLine("GUEST-UP", Duration.ofSeconds(1))).isEqualTo("NIMBUS-GUEST-UP two");
        assertThatThrownBy(() -> console.awaitLine("GUEST-UP", Duration.ofMillis(50)))
                .isInstanceOf(ConsoleTimeoutException.class);
    }

    @Test
    void awaitLineWaitsForALineThatArrivesLaterAndIgnoresAHalfLine() throws Exception {
        print("ANSWER=4");
        CompletableFuture<String> line = CompletableFuture.supplyAsync(() -> console.awaitLine("^ANSWER=\\d+$", Duration.ofSeconds(10)));
        Thread.sleep(100);
        assertThat(line).isNotDone(); // the line has not ended yet
        print("2\n");
        assertThat(line.get(5, TimeUnit.SECONDS)).isEqualTo("ANSWER=42");
    }

    @Test
    void awaitMatchesAPromptWithoutItsLineEnding() throws Exception {
        print("login: ");
        assertThat(console.await(Pattern.compile("login: $"), Duration.ofSeconds(1))).isEqualTo("login: ");
    }

    @Test
    void aWaiterAndAReaderSeeAPromptThatArrivesLaterWithoutItsLineEnding() throws Exception {
        CompletableFuture<String> prompt = CompletableFuture.supplyAsync(() -> console.await(Pattern.compile("# $"), Duration.ofSeconds(30)));
        InputStream in = console.output();
        CompletableFuture<Integer> firstByte = CompletableFuture.supplyAsync(() -> {
            try {
                return in.read();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        Thread.sleep(100);
        print("/ # "); // a byte at a time, no line end: no one is woken for it
        assertThat(prompt.get(10, TimeUnit.SECONDS)).isEqualTo("# ");
        assertThat(firstByte.get(10, TimeUnit.SECONDS)).isEqualTo((int) '/');
    }

    @Test
    void aTimeoutNamesTheConsoleThePatternAndTheLastLinesWithinItsTime() throws Exception {
        for (int i = 1; i <= 30; i++) {
            print("line " + i + "\r\n");
        }
        long start = System.nanoTime();
        assertThatThrownBy(() -> console.awaitLine("never printed", Duration.ofMillis(300)))
                .isInstanceOfSatisfying(ConsoleTimeoutException.class, e -> {
                    assertThat(e.getMessage()).startsWith("the serial console: no line matching /never printed/ within 300 ms; its last lines:\n");
                    assertThat(e.transcriptTail()).startsWith("line 11\n").endsWith("\nline 30").doesNotContain("\r");
                    assertThat(e.exitCode()).isEqualTo(1);
                });
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(Duration.ofMillis(290), Duration.ofSeconds(5));
    }

    @Test
    void aTimeoutOnASilentGuestSaysItPrintedNothing() {
        assertThatThrownBy(() -> console.awaitLine("x", Duration.ZERO))
                .hasMessage("the serial console: no line matching /x/ within 0 ms; the guest printed nothing");
    }

    @Test
    void aWaitEndsWhenTheVmIsClosed() throws Exception {
        CompletableFuture<String> line = CompletableFuture.supplyAsync(() -> console.awaitLine("x", Duration.ofMinutes(5)));
        Thread.sleep(100);
        console.end();
        assertThatThrownBy(() -> line.get(5, TimeUnit.SECONDS)).hasCauseInstanceOf(ConsoleTimeoutException.class)
                .hasMessageContaining("(the VM was closed)");
    }

    @Test
    void outputReadsEverythingFromTheStartAndEndsWithTheVm() throws Exception {
        print("héllo\n");
        InputStream in = console.output();
        CompletableFuture<byte[]> all = CompletableFuture.supplyAsync(() -> {
            try {
                return in.readAllBytes();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        print("world\n");
        Thread.sleep(100);
        assertThat(all).isNotDone();
        console.end();
        assertThat(new String(all.get(5, TimeUnit.SECONDS), StandardCharsets.UTF_8)).isEqualTo("héllo\nworld\n");
        assertThat(console.transcript()).isEqualTo("héllo\nworld\n");
    }

    @Test
    void inputWrittenBeforeTheMachineIsThereReachesItWhenItAttaches() throws Exception {
        ByteArrayOutputStream received = new ByteArrayOutputStream();
        console.write("early ");
        AutoCloseable attached = console.attach((data, off, len) -> received.write(data, off, len));
        console.input().write("late\n".getBytes(StandardCharsets.UTF_8));
        assertThat(received.toString(StandardCharsets.UTF_8)).isEqualTo("early late\n");
        attached.close();
        console.write("between machines");
        assertThat(received.toString(StandardCharsets.UTF_8)).isEqualTo("early late\n");
        console.end();
        assertThatThrownBy(() -> console.write("after")).isInstanceOf(VmStateException.class)
                .hasMessage("the serial console is closed with its VM");
    }

    @Test
    void theTranscriptKeepsItsNewestBytesAndTheCursorFollows() throws Exception {
        byte[] mib = new byte[1 << 20];
        java.util.Arrays.fill(mib, (byte) 'a');
        mib[mib.length - 1] = '\n';
        for (int i = 0; i < 9; i++) {
            guest.write(mib);
        }
        print("LAST\n");
        String t = console.transcript();
        assertThat(t.length()).isLessThanOrEqualTo(Console.KEPT_BYTES).isGreaterThan(Console.KEPT_BYTES / 2);
        assertThat(t).endsWith("\nLAST\n");
        assertThat(console.awaitLine("^LAST$", Duration.ofSeconds(1))).isEqualTo("LAST");
    }
}
