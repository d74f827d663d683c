package dev.nimbus.host;

import org.junit.jupiter.api.Test;

import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;

import static org.assertj.core.api.Assertions.assertThat;

/** A real pseudo-terminal pair: bytes pass unchanged both ways, and the guest's side never waits. */
class PtyTest {
    @Test
    void bytesPassUnchangedBothWaysThroughTheSlaveAUserOpens() throws Exception {
        try (Pty pty = Pty.open()) {
            assertThat(pty.path().toString()).startsWith("/dev/pts/");
            assertThat(Files.exists(pty.path())).isTrue();
            try (FileInputStream fromGuest = new FileInputStream(pty.path().toFile());
                 FileOutputStream user = new FileOutputStream(pty.path().toFile())) {
                byte[] line = "login: \r\n\u0003".getBytes(StandardCharsets.ISO_8859_1);
                assertThat(pty.write(line, 0, line.length)).isEqualTo(line.length);
                byte[] got = fromGuest.readNBytes(line.length);
                assertThat(got).as("raw: no CR/LF translation, ^C passed as a byte").isEqualTo(line);

                byte[] typed = "uname -a\r".getBytes(StandardCharsets.US_ASCII);
                user.write(typed);
                byte[] buf = new byte[64];
                int n = 0;
                for (int tries = 0; n < typed.length && tries < 200; tries++) {
                    int r = pty.read(buf, n, buf.length - n);
                    n += r;
                    if (r == 0) {
                        Thread.sleep(10);
                    }
                }
                assertThat(new String(buf, 0, n, StandardCharsets.US_ASCII)).isEqualTo("uname -a\r");
                assertThat(fromGuest.available()).as("raw: no echo back to the user").isZero();
            }
        }
    }

    @Test
    @org.junit.jupiter.api.Timeout(value = 60, threadMode = org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD)
    void aPtyNoOneReadsNeverStopsTheWriter() {
        // a blocking write would hang here: the timeout fails the test instead
        try (Pty pty = Pty.open()) {
            byte[] lots = new byte[1 << 20];
            int went = pty.write(lots, 0, lots.length);
            assertThat(went).as("the terminal buffer takes some, not a mebibyte").isBetween(1, lots.length - 1);
            // the kernel may move part of its buffer to the line discipline after a write, making room for a
            // little more: write on until it takes nothing (bounded), never blocking
            long total = went;
            int more = -1;
            for (int i = 0; i < 10_000 && more != 0; i++) {
                more = pty.write(lots, 0, 100);
                total += more;
            }
            assertThat(more).as("a full terminal takes nothing more").isZero();
            assertThat(total).as("all it took").isLessThan(lots.length);
            byte[] buf = new byte[16];
            assertThat(pty.read(buf, 0, buf.length)).as("nothing typed: nothing read, at once").isZero();
        }
    }

    @Test
    void aClosedPtyReadsEndAndWritesGoNowhere() {
        Pty pty = Pty.open();
        pty.close();
        assertThat(pty.read(new byte[4], 0, 4)).isEqualTo(-1);
        assertThat(pty.write(new byte[4], 0, 4)).isZero();
        pty.close();
    }
}
