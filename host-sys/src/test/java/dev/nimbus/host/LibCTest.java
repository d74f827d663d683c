package dev.nimbus.host;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LibCTest {
    @Test
    void openOfMissingFileNamesTheCallAndErrno() {
        assertThatThrownBy(() -> LibC.open("/nonexistent/nimbus-test", LibC.O_RDONLY, 0))
                .isInstanceOfSatisfying(SyscallException.class, e -> {
                    assertThat(e.errno()).isEqualTo(Errno.ENOENT);
                    assertThat(e.call()).isEqualTo("open(/nonexistent/nimbus-test)");
                })
                .hasMessage("open(/nonexistent/nimbus-test) failed: ENOENT (No such file or directory)");
    }

    @Test
    void ioctlOnNonIoctlFileReportsEnotty() {
        int fd = LibC.open("/dev/null", LibC.O_RDONLY | LibC.O_CLOEXEC, 0);
        try {
            assertThatThrownBy(() -> LibC.ioctl(fd, Ioctl.io(0xAE, 0x00), 0, "KVM_GET_API_VERSION"))
                    .hasMessage("KVM_GET_API_VERSION failed: ENOTTY (Inappropriate ioctl for device)");
            assertThat(LibC.ioctlErrno(fd, Ioctl.io(0xAE, 0x00), 0)).isEqualTo(-Errno.ENOTTY);
        } finally {
            LibC.close(fd);
        }
    }

    @Test
    void eventFdCountsSignalsUntilRead() {
        try (EventFd e = EventFd.createNonBlocking()) {
            assertThat(e.read()).isZero();
            e.signal();
            e.write(2);
            assertThat(e.read()).isEqualTo(3);
            assertThat(e.read()).isZero();
        }
    }

    @Test
    void pageSizeIsAPowerOfTwo() {
        long p = LibC.pageSize();
        assertThat(p).isPositive();
        assertThat(Long.bitCount(p)).isEqualTo(1);
    }

    @Test
    void unknownErrnoIsDescribedByNumber() {
        assertThat(Errno.describe(4095)).isEqualTo("errno 4095");
        assertThat(Errno.describe(Errno.EOPNOTSUPP)).startsWith("EOPNOTSUPP");
    }
}
