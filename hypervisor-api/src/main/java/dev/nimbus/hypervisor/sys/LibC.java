package dev.nimbus.hypervisor.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The C library calls Nimbus makes, as thin downcalls. Each call that can fail takes the name to report
 * and throws {@link SyscallException} with the errno the call set (captured by the linker, so no JVM
 * activity between the call and the read can clobber it). Nothing here allocates on success except
 * where a string must be passed.
 *
 * <p>This class and {@code dev.nimbus.hypervisor.memory} are the only places outside the backends that
 * touch {@code java.lang.foreign}; an ArchUnit rule holds that.
 */
public final class LibC {
    public static final int O_RDONLY = 0;
    public static final int O_WRONLY = 1;
    public static final int O_RDWR = 2;
    public static final int O_CREAT = 0x40;
    public static final int O_NONBLOCK = 0x800;
    public static final int O_CLOEXEC = 0x80000;

    public static final int PROT_NONE = 0;
    public static final int PROT_READ = 1;
    public static final int PROT_WRITE = 2;
    public static final int MAP_SHARED = 0x01;
    public static final int MAP_PRIVATE = 0x02;
    public static final int MAP_ANONYMOUS = 0x20;
    public static final int MAP_NORESERVE = 0x4000;

    public static final int EFD_CLOEXEC = O_CLOEXEC;
    public static final int EFD_NONBLOCK = O_NONBLOCK;

    public static final int EPOLL_CLOEXEC = O_CLOEXEC;
    public static final int EPOLL_CTL_ADD = 1;
    public static final int EPOLL_CTL_DEL = 2;
    public static final int EPOLL_CTL_MOD = 3;
    public static final int EPOLLIN = 0x001;

    public static final int AF_INET = 2;
    public static final int SOCK_DGRAM = 2;
    public static final int SOCK_CLOEXEC = O_CLOEXEC;

    /** {@code struct iovec}: base pointer and length, 16 bytes on the 64-bit hosts Nimbus runs on. */
    public static final StructLayout IOVEC = MemoryLayout.structLayout(ADDRESS.withName("iov_base"), JAVA_LONG.withName("iov_len"));
    /** The most iovecs one readv/writev takes ({@code UIO_MAXIOV}). */
    public static final int IOV_MAX = 1024;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    /** One errno capture buffer per thread: calls on a vCPU thread's hot path allocate nothing. */
    private static final ThreadLocal<MemorySegment> CAPTURE =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE_LAYOUT));

    private static final MethodHandle OPEN = downcall("open",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle CLOSE = downcall("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle IOCTL_PTR = downcall("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle IOCTL_LONG = downcall("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle MMAP = downcall("mmap",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MUNMAP = downcall("munmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle EVENTFD = downcall("eventfd", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle READ = downcall("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle WRITE = downcall("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle READV = downcall("readv", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle WRITEV = downcall("writev", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle SOCKET = downcall("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle EPOLL_CREATE1 = downcall("epoll_create1", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle EPOLL_CTL = downcall("epoll_ctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle EPOLL_WAIT = downcall("epoll_wait",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    private static final MethodHandle SYSCONF = downcall("sysconf", FunctionDescriptor.of(JAVA_LONG, JAVA_INT));

    private static final int SC_PAGESIZE = 30;
    private static final MemorySegment MAP_FAILED = MemorySegment.ofAddress(-1L);

    private LibC() {}

    private static MethodHandle downcall(String name, FunctionDescriptor fd, Linker.Option... extra) {
        Linker.Option[] options = new Linker.Option[extra.length + 1];
        options[0] = CAPTURE_ERRNO;
        System.arraycopy(extra, 0, options, 1, extra.length);
        MemorySegment symbol = LINKER.defaultLookup().find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("C library has no " + name));
        return LINKER.downcallHandle(symbol, fd, options);
    }

    private static int errno(MemorySegment capture) {
        return (int) ERRNO.get(capture, 0L);
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }

    /** open(2). Returns the new file descriptor. */
    public static int open(String path, int flags, int mode) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = CAPTURE.get();
            int fd = (int) OPEN.invokeExact(capture, arena.allocateFrom(path), flags, mode);
            if (fd < 0) {
                throw new SyscallException("open(" + path + ")", errno(capture));
            }
            return fd;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** close(2). Errors are reported, not thrown: there is nothing a caller can do about them. */
    public static int close(int fd) {
        try {
            return (int) CLOSE.invokeExact(CAPTURE.get(), fd);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** ioctl(2) with a pointer argument. Returns the (non-negative) result. */
    public static int ioctl(int fd, long request, MemorySegment arg, String name) {
        return checked(ioctlErrno(fd, request, arg), name);
    }

    /** ioctl(2) with an integer argument (or none: pass 0). Returns the (non-negative) result. */
    public static int ioctl(int fd, long request, long arg, String name) {
        return checked(ioctlErrno(fd, request, arg), name);
    }

    private static int checked(int resultOrMinusErrno, String name) {
        if (resultOrMinusErrno < 0) {
            throw new SyscallException(name, -resultOrMinusErrno);
        }
        return resultOrMinusErrno;
    }

    /**
     * ioctl(2) with a pointer argument that returns the errno instead of throwing: {@code >= 0} is the
     * result, {@code < 0} is minus the errno. For calls where an errno is an expected outcome
     * ({@code KVM_RUN} returning EINTR) and the hot path must not build an exception.
     */
    public static int ioctlErrno(int fd, long request, MemorySegment arg) {
        try {
            MemorySegment capture = CAPTURE.get();
            int r = (int) IOCTL_PTR.invokeExact(capture, fd, request, arg);
            return r < 0 ? -errno(capture) : r;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Same as {@link #ioctlErrno(int, long, MemorySegment)} with an integer argument. */
    public static int ioctlErrno(int fd, long request, long arg) {
        try {
            MemorySegment capture = CAPTURE.get();
            int r = (int) IOCTL_LONG.invokeExact(capture, fd, request, arg);
            return r < 0 ? -errno(capture) : r;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** mmap(2) of {@code length} bytes. The result is a zero-length segment holding the address. */
    public static MemorySegment mmap(long length, int prot, int flags, int fd, long offset, String name) {
        try {
            MemorySegment capture = CAPTURE.get();
            MemorySegment p = (MemorySegment) MMAP.invokeExact(capture, MemorySegment.NULL, length, prot, flags, fd, offset);
            if (p.address() == MAP_FAILED.address()) {
                throw new SyscallException(name, errno(capture));
            }
            return p;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** munmap(2). */
    public static void munmap(long address, long length) {
        try {
            MemorySegment capture = CAPTURE.get();
            int r = (int) MUNMAP.invokeExact(capture, MemorySegment.ofAddress(address), length);
            if (r < 0) {
                throw new SyscallException("munmap", errno(capture));
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** eventfd(2). */
    public static int eventfd(int initial, int flags) {
        try {
            MemorySegment capture = CAPTURE.get();
            int fd = (int) EVENTFD.invokeExact(capture, initial, flags);
            if (fd < 0) {
                throw new SyscallException("eventfd", errno(capture));
            }
            return fd;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** read(2) into {@code buf}; returns bytes read, or minus the errno. */
    public static long read(int fd, MemorySegment buf, long count) {
        try {
            MemorySegment capture = CAPTURE.get();
            long n = (long) READ.invokeExact(capture, fd, buf, count);
            return n < 0 ? -errno(capture) : n;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** write(2) from {@code buf}; returns bytes written, or minus the errno. */
    public static long write(int fd, MemorySegment buf, long count) {
        try {
            MemorySegment capture = CAPTURE.get();
            long n = (long) WRITE.invokeExact(capture, fd, buf, count);
            return n < 0 ? -errno(capture) : n;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** readv(2) into {@code count} iovecs ({@link #IOVEC}); returns bytes read, or minus the errno. */
    public static long readv(int fd, MemorySegment iov, int count) {
        try {
            MemorySegment capture = CAPTURE.get();
            long n = (long) READV.invokeExact(capture, fd, iov, count);
            return n < 0 ? -errno(capture) : n;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** writev(2) from {@code count} iovecs ({@link #IOVEC}); returns bytes written, or minus the errno. */
    public static long writev(int fd, MemorySegment iov, int count) {
        try {
            MemorySegment capture = CAPTURE.get();
            long n = (long) WRITEV.invokeExact(capture, fd, iov, count);
            return n < 0 ? -errno(capture) : n;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** socket(2). Returns the new descriptor. */
    public static int socket(int domain, int type, int protocol, String name) {
        try {
            MemorySegment capture = CAPTURE.get();
            int fd = (int) SOCKET.invokeExact(capture, domain, type, protocol);
            if (fd < 0) {
                throw new SyscallException(name, errno(capture));
            }
            return fd;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** epoll_create1(2). Returns the new epoll descriptor. */
    public static int epollCreate1(int flags) {
        try {
            MemorySegment capture = CAPTURE.get();
            int fd = (int) EPOLL_CREATE1.invokeExact(capture, flags);
            if (fd < 0) {
                throw new SyscallException("epoll_create1", errno(capture));
            }
            return fd;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** epoll_ctl(2); {@code event} is a {@code struct epoll_event} ({@link Epoll#EVENT}), NULL for EPOLL_CTL_DEL. */
    public static void epollCtl(int epfd, int op, int fd, MemorySegment event, String name) {
        try {
            MemorySegment capture = CAPTURE.get();
            int r = (int) EPOLL_CTL.invokeExact(capture, epfd, op, fd, event);
            if (r < 0) {
                throw new SyscallException(name, errno(capture));
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * epoll_wait(2) into {@code events} (an array of {@code struct epoll_event}); returns how many are ready,
     * or minus the errno (EINTR is an expected outcome for a loop that is being woken).
     */
    public static int epollWait(int epfd, MemorySegment events, int maxEvents, int timeoutMillis) {
        try {
            MemorySegment capture = CAPTURE.get();
            int n = (int) EPOLL_WAIT.invokeExact(capture, epfd, events, maxEvents, timeoutMillis);
            return n < 0 ? -errno(capture) : n;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The host page size. */
    public static long pageSize() {
        try {
            return (long) SYSCONF.invokeExact(CAPTURE.get(), SC_PAGESIZE);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }
}
