package dev.nimbus.host;

import java.lang.foreign.MemorySegment;

/**
 * How the backends' descriptor classes reach {@code ioctl(2)}: both forms return the result ({@code >= 0}) or
 * minus the errno, never throw. {@link #LIBC} is the only implementation outside tests; a test passes its own
 * to run the code that fills the argument structs without the device (see the KVM backend's
 * {@code IrqLineAllocationTest}, the MSHV backend's {@code MshvFdIoctlTest}).
 */
public interface NativeIoctl {
    int ioctl(int fd, long request, MemorySegment arg);

    int ioctl(int fd, long request, long arg);

    NativeIoctl LIBC = new NativeIoctl() {
        @Override
        public int ioctl(int fd, long request, MemorySegment arg) {
            return LibC.ioctlErrno(fd, request, arg);
        }

        @Override
        public int ioctl(int fd, long request, long arg) {
            return LibC.ioctlErrno(fd, request, arg);
        }
    };
}
