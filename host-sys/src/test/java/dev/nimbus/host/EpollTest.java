package dev.nimbus.host;

import dev.nimbus.testsupport.HostTools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** epoll over eventfds, as a device worker thread uses it. */
class EpollTest {
    @TempDir
    Path dir;

    @Test
    void signalledEventFdIsReportedWithItsToken() {
        try (Epoll epoll = Epoll.create(4); EventFd a = EventFd.createNonBlocking(); EventFd b = EventFd.createNonBlocking()) {
            epoll.add(a.fd(), 10);
            epoll.add(b.fd(), 0x1_0000_0020L);
            b.signal();
            assertThat(epoll.await(-1)).isEqualTo(1);
            assertThat(epoll.token(0)).isEqualTo(0x1_0000_0020L);
            assertThat(epoll.events(0) & LibC.EPOLLIN).isNotZero();
        }
    }

    @Test
    void nothingSignalledTimesOutWithNoEvents() {
        try (Epoll epoll = Epoll.create(1); EventFd a = EventFd.createNonBlocking()) {
            epoll.add(a.fd(), 1);
            assertThat(epoll.await(0)).isZero();
        }
    }

    @Test
    void readingTheEventFdClearsReadiness() {
        try (Epoll epoll = Epoll.create(1); EventFd a = EventFd.createNonBlocking()) {
            epoll.add(a.fd(), 1);
            a.signal();
            assertThat(epoll.await(0)).isEqualTo(1);
            a.read();
            assertThat(epoll.await(0)).isZero();
        }
    }

    @Test
    void removedDescriptorIsNoLongerReported() {
        try (Epoll epoll = Epoll.create(1); EventFd a = EventFd.createNonBlocking()) {
            epoll.add(a.fd(), 1);
            epoll.remove(a.fd());
            a.signal();
            assertThat(epoll.await(0)).isZero();
        }
    }

    @Test
    void addingADescriptorTwiceNamesTheCallAndEexist() {
        try (Epoll epoll = Epoll.create(1); EventFd a = EventFd.createNonBlocking()) {
            epoll.add(a.fd(), 1);
            assertThatThrownBy(() -> epoll.add(a.fd(), 2)).isInstanceOf(SyscallException.class)
                    .hasMessageContaining("epoll_ctl(EPOLL_CTL_ADD").hasMessageContaining("EEXIST");
        }
    }

    /**
     * The layout must be the C library's: gcc prints sizeof and offsetof of struct epoll_event. Only
     * meaningful where gcc builds for the architecture the JVM runs on (not on the cross-architecture
     * runs under QEMU user mode, whose gcc is the host's x86-64 one).
     */
    @Test
    void eventLayoutMatchesTheCLibrary() throws Exception {
        String gccTarget = run(List.of("gcc", "-dumpmachine")).trim();
        String jvmArch = System.getProperty("os.arch").replace("amd64", "x86_64");
        assumeTrue(gccTarget.startsWith(jvmArch + "-"), "gcc builds for " + gccTarget + ", the JVM runs on " + jvmArch);
        Path src = dir.resolve("epoll.c");
        Files.writeString(src, """
                #include <sys/epoll.h>
                #include <stdio.h>
                #include <stddef.h>
                int main(void) { printf("%zu %zu\\n", sizeof(struct epoll_event), offsetof(struct epoll_event, data)); return 0; }
                """);
        Path exe = dir.resolve("epoll");
        run(List.of("gcc", "-o", exe.toString(), src.toString()));
        String[] out = run(List.of(exe.toString())).trim().split(" ");
        assertThat(Epoll.EVENT.byteSize()).isEqualTo(Long.parseLong(out[0]));
        assertThat(Epoll.EVENT.byteOffset(java.lang.foreign.MemoryLayout.PathElement.groupElement("data")))
                .isEqualTo(Long.parseLong(out[1]));
    }

    private static String run(List<String> command) {
        return HostTools.run(Path.of("."), command);
    }
}
