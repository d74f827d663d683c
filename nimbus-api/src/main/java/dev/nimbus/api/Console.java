package dev.nimbus.api;

import dev.nimbus.devices.console.ConsoleInput;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One guest console of an embedded VM (the serial port, or the virtio console) as Java streams: what the guest
 * prints is kept as a transcript, which {@link #output()} reads and {@link #awaitLine} searches; what is
 * written to {@link #input()} is what the guest reads from the console.
 *
 * <p>The awaiting methods share one cursor: each search starts after the end of the previous match, so a test
 * can wait for one line and then for the next. A reboot's new machine writes on into the same transcript.
 * The transcript keeps the last {@value #KEPT_BYTES} bytes.
 *
 * <p>Thread safety: every method may be called from any thread. The guest's output arrives on the VMM's
 * threads; a blocked {@link #awaitLine} or reader never holds the guest up.
 */
public final class Console {
    /** How much of the guest's output is kept; older output is dropped, half of it at a time. */
    public static final int KEPT_BYTES = 8 << 20;
    private static final int TAIL_LINES = 20;
    /** How often a waiter looks at output that has no line end yet (as often as the CLI's console flushes). */
    private static final long PARTIAL_LINE_MILLIS = 20;

    private final String name;
    private final Object lock = new Object();
    // guarded by lock: the transcript, kept from stream offset `base`; the cursor of the awaiting methods
    private byte[] kept = new byte[4096];
    private int length;
    private long base;
    private long cursor;
    private boolean ended;
    private ConsoleInput target;
    private final ByteArrayOutputStream pendingInput = new ByteArrayOutputStream();

    Console(String name) {
        this.name = name;
    }

    /**
     * The console's name: {@code serial} (the UART) or {@code virtio} (the virtio console, {@code hvc0}).
     *
     * @return the name
     */
    public String name() {
        return name;
    }

    /**
     * Everything the guest printed so far (its last {@value #KEPT_BYTES} bytes), as UTF-8 text.
     *
     * @return the transcript
     */
    public String transcript() {
        synchronized (lock) {
            return new String(kept, 0, length, StandardCharsets.UTF_8);
        }
    }

    /**
     * Waits until the guest prints a whole line in which {@code regex} finds a match, after the previous match
     * of this console's awaiting methods, and returns that line (without its line ending).
     *
     * @param regex   a regular expression ({@link java.util.regex.Pattern} syntax), found anywhere in the line
     * @param timeout how long to wait at most
     * @return the line, without its line ending
     * @throws ConsoleTimeoutException when no such line came within {@code timeout}, or the VM was closed; the
     *                                 message ends with the console's last lines
     */
    public String awaitLine(String regex, Duration timeout) {
        Pattern p = Pattern.compile(regex);
        return awaitLine(p, timeout);
    }

    /**
     * {@link #awaitLine(String, Duration)} with a compiled pattern.
     *
     * @param pattern what to look for
     * @param timeout how long to wait at most
     * @return the line, without its line ending
     */
    public String awaitLine(Pattern pattern, Duration timeout) {
        Objects.requireNonNull(pattern, "pattern");
        long deadline = deadline(timeout);
        synchronized (lock) {
            long from = cursor;
            while (true) {
                // whole lines after `from`; the text is matched byte for byte (ISO-8859-1), returned as UTF-8
                int start = (int) (Math.max(from, base) - base);
                for (int i = start; i < length; i++) {
                    if (kept[i] != '\n') {
                        continue;
                    }
                    int end = i > start && kept[i - 1] == '\r' ? i - 1 : i;
                    String latin = new String(kept, start, end - start, StandardCharsets.ISO_8859_1);
                    if (pattern.matcher(latin).find()) {
                        cursor = base + i + 1;
                        return new String(kept, start, end - start, StandardCharsets.UTF_8);
                    }
                    start = i + 1;
                }
                from = base + start;
                waitUntil(deadline, pattern, timeout, "line");
            }
        }
    }

    /**
     * Waits until {@code pattern} matches the guest's output after the previous match (within a line or across
     * lines, a prompt without its line ending included) and returns the match.
     *
     * @param pattern what to look for
     * @param timeout how long to wait at most
     * @return the text that matched
     * @throws ConsoleTimeoutException when it did not match within {@code timeout}, or the VM was closed
     */
    public String await(Pattern pattern, Duration timeout) {
        Objects.requireNonNull(pattern, "pattern");
        long deadline = deadline(timeout);
        synchronized (lock) {
            while (true) {
                int start = (int) (Math.max(cursor, base) - base);
                Matcher m = pattern.matcher(new String(kept, start, length - start, StandardCharsets.ISO_8859_1));
                if (m.find()) {
                    cursor = base + start + m.end();
                    return new String(kept, start + m.start(), m.end() - m.start(), StandardCharsets.UTF_8);
                }
                waitUntil(deadline, pattern, timeout, "output");
            }
        }
    }

    /**
     * Sends {@code text} (UTF-8) to the guest, as if typed on the console.
     *
     * @param text the text, sent as UTF-8
     */
    public void write(String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        send(b, 0, b.length);
    }

    /**
     * What the guest reads from the console. Input written before the VM starts, or while a reboot builds the
     * next machine, is held and delivered when the console is there; a write may wait while the guest's
     * receive buffer is full.
     *
     * @return a stream to the guest's console input
     */
    public OutputStream input() {
        return new OutputStream() {
            @Override
            public void write(int b) {
                send(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                Objects.checkFromIndexSize(off, len, b.length);
                send(b, off, len);
            }
        };
    }

    /**
     * A new stream over the guest's output, from the oldest byte kept: a read waits for more, and the stream
     * ends once the VM is closed and everything before was read. Each call gives an independent reader.
     *
     * @return a new reader of the guest's output
     */
    public InputStream output() {
        return new InputStream() {
            private long position = -1;

            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                Objects.checkFromIndexSize(off, len, b.length);
                if (len == 0) {
                    return 0;
                }
                synchronized (lock) {
                    if (position < 0) {
                        position = base;
                    }
                    while (position >= base + length && !ended) {
                        try {
                            lock.wait(PARTIAL_LINE_MILLIS); // a prompt without its line ending wakes no one
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            throw new InterruptedIOException("interrupted while reading the " + name + " console");
                        }
                    }
                    position = Math.max(position, base); // what was dropped meanwhile is skipped
                    int available = (int) (base + length - position);
                    if (available == 0) {
                        return -1;
                    }
                    int n = Math.min(len, available);
                    System.arraycopy(kept, (int) (position - base), b, off, n);
                    position += n;
                    return n;
                }
            }
        };
    }

    // ---- the VMM's side ----

    /** The guest's output, for the machine's UART or virtio console; closing it leaves the transcript open. */
    OutputStream guestOutput() {
        return new OutputStream() {
            @Override
            public void write(int b) {
                synchronized (lock) {
                    makeRoom(1);
                    kept[length++] = (byte) b;
                    if (b == '\n') {
                        lock.notifyAll();
                    }
                }
            }

            @Override
            public void write(byte[] b, int off, int len) {
                append(b, off, len);
            }
        };
    }

    /** Connects the console of the machine that now runs; input held so far goes to it. */
    AutoCloseable attach(ConsoleInput input) {
        byte[] held;
        synchronized (lock) {
            target = input;
            held = pendingInput.toByteArray();
            pendingInput.reset();
        }
        if (held.length > 0) {
            deliver(input, held, 0, held.length);
        }
        return () -> {
            synchronized (lock) {
                if (target == input) {
                    target = null;
                }
            }
        };
    }

    /** The VM is closed: readers see the end, waits end with a timeout exception. */
    void end() {
        synchronized (lock) {
            ended = true;
            target = null;
            lock.notifyAll();
        }
    }

    /**
     * A whole buffer at once (the virtio console's): the waiters are woken. A UART's byte at a time wakes them
     * at each line end only, and they look at a partial line every {@value #PARTIAL_LINE_MILLIS} ms, so a guest
     * printing a long line does not make every waiter scan the transcript once per byte.
     */
    private void append(byte[] b, int off, int len) {
        synchronized (lock) {
            makeRoom(len);
            System.arraycopy(b, off, kept, length, len);
            length += len;
            lock.notifyAll();
        }
    }

    /** Drops the oldest half when {@code len} more would not fit in {@link #KEPT_BYTES}, and grows the array (lock held). */
    private void makeRoom(int len) {
        if (length + len > KEPT_BYTES) {
            int drop = Math.min(Math.max(KEPT_BYTES / 2, length + len - KEPT_BYTES), length);
            System.arraycopy(kept, drop, kept, 0, length - drop);
            length -= drop;
            base += drop;
        }
        if (length + len > kept.length) {
            kept = java.util.Arrays.copyOf(kept, Math.min(Math.max(kept.length * 2, length + len), KEPT_BYTES + len));
        }
    }

    private void send(byte[] b, int off, int len) {
        ConsoleInput t;
        synchronized (lock) {
            if (ended) {
                throw new VmStateException("the " + name + " console is closed with its VM", null);
            }
            t = target;
            if (t == null) {
                pendingInput.write(b, off, len);
                return;
            }
        }
        deliver(t, b, off, len);
    }

    private void deliver(ConsoleInput t, byte[] b, int off, int len) {
        try {
            t.receive(b, off, len);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VmStateException("interrupted while the " + name + " console took input", e);
        }
    }

    private static long deadline(Duration timeout) {
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("timeout: must not be negative, got " + timeout);
        }
        long now = System.nanoTime();
        long nanos = timeout.compareTo(Duration.ofDays(365)) > 0 ? Duration.ofDays(365).toNanos() : timeout.toNanos();
        return now + nanos;
    }

    /** Waits (lock held) for more output or the deadline; throws the timeout with the last lines. */
    private void waitUntil(long deadline, Pattern pattern, Duration timeout, String what) {
        long left = deadline - System.nanoTime();
        if (left <= 0 || ended) {
            throw new ConsoleTimeoutException(name, what + " matching /" + pattern.pattern() + "/",
                    timeout, ended ? "(the VM was closed)" : "", tail());
        }
        try {
            lock.wait(Math.max(1, Math.min(PARTIAL_LINE_MILLIS, left / 1_000_000)), 0);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ConsoleTimeoutException(name, what + " matching /" + pattern.pattern() + "/", timeout,
                    "(interrupted)", tail());
        }
    }

    /** The last lines of the transcript (lock held). */
    private String tail() {
        String text = new String(kept, 0, length, StandardCharsets.UTF_8).replace("\r", "");
        List<String> lines = new ArrayList<>(List.of(text.split("\n", -1)));
        if (!lines.isEmpty() && lines.getLast().isEmpty()) {
            lines.removeLast();
        }
        return String.join("\n", lines.subList(Math.max(0, lines.size() - TAIL_LINES), lines.size()));
    }
}
