package dev.nimbus.host;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The C library calls Nimbus makes, as thin downcalls through {@link Native}. Each call that can fail
 * takes the name to report and throws {@link SyscallException} with the errno the call set, or returns
 * minus the errno where that is an expected outcome. The hot calls allocate nothing.
 *
 * <p>The host layer ({@code dev.nimbus.host..}), the backends and guest memory are the only places that
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
    /** Fault every page in when mapping (the same value on x86-64, arm64 and riscv64). */
    public static final int MAP_POPULATE = 0x8000;

    public static final int MADV_MERGEABLE = 12;
    public static final int MADV_HUGEPAGE = 14;
    public static final int MADV_NOHUGEPAGE = 15;

    public static final int MFD_CLOEXEC = 0x0001;
    public static final int MFD_HUGETLB = 0x0004;
    /** {@code MFD_HUGE_SHIFT}: a hugetlb memfd's page size is {@code log2(size) << 26} in its flags. */
    public static final int MFD_HUGE_SHIFT = 26;

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
    public static final int AF_UNIX = 1;
    public static final int SOCK_STREAM = 1;
    public static final int SOL_SOCKET = 1;
    public static final int SO_TYPE = 3;
    public static final int SO_ACCEPTCONN = 30;
    public static final int SO_DOMAIN = 39;
    public static final int F_GETFD = 1;
    public static final int SOCK_SEQPACKET = 5;
    public static final int SOCK_NONBLOCK = 0x800;

    /** {@code struct iovec}: base pointer and length, 16 bytes on the 64-bit hosts Nimbus runs on. */
    public static final StructLayout IOVEC = MemoryLayout.structLayout(ADDRESS.withName("iov_base"), JAVA_LONG.withName("iov_len"));
    /** The most iovecs one readv/writev takes ({@code UIO_MAXIOV}). */
    public static final int IOV_MAX = 1024;

    private static final MethodHandle OPEN = downcall("open",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle DUP = downcall("dup", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle DUP2 = downcall("dup2", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle FCNTL = downcall("fcntl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle GETSOCKOPT = downcall("getsockopt",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
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
    // readv/writev take an int count; seen with a long one (narrowed), they share read/write's call shape
    private static final MethodHandle READV = longCount(downcall("readv", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT)));
    private static final MethodHandle WRITEV = longCount(downcall("writev", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT)));
    private static final MethodHandle PREADV = downcall("preadv",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG));
    private static final MethodHandle PWRITEV = downcall("pwritev",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG));
    private static final MethodHandle FDATASYNC = downcall("fdatasync", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle LSEEK = downcall("lseek", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT));
    private static final MethodHandle FCNTL_PTR = downcall("fcntl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle SOCKET = downcall("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle SOCKETPAIR = downcall("socketpair",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle EPOLL_CREATE1 = downcall("epoll_create1", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle EPOLL_CTL = downcall("epoll_ctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle EPOLL_WAIT = downcall("epoll_wait",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    private static final MethodHandle SYSCONF = downcall("sysconf", FunctionDescriptor.of(JAVA_LONG, JAVA_INT));
    private static final MethodHandle MEMFD_CREATE = downcall("memfd_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle FTRUNCATE = downcall("ftruncate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MADVISE = downcall("madvise", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));

    private static final int SC_PAGESIZE = 30;
    private static final MemorySegment MAP_FAILED = MemorySegment.ofAddress(-1L);

    private LibC() {}

    private static MethodHandle downcall(String name, FunctionDescriptor fd, Linker.Option... extra) {
        return Native.downcall(name, fd, extra);
    }

    private static MethodHandle longCount(MethodHandle h) {
        return MethodHandles.explicitCastArguments(h, h.type().changeParameterType(3, long.class));
    }

    /** open(2). Returns the new file descriptor. */
    public static int open(String path, int flags, int mode) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cPath = arena.allocateFrom(path);
            return Native.checked("open(" + path + ")", c -> (int) OPEN.invokeExact(c, cPath, flags, mode));
        }
    }

    /** open(2) for calls where failing is an expected outcome: the new descriptor, or minus the errno. */
    public static int openErrno(String path, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cPath = arena.allocateFrom(path);
            return Native.orErrno(c -> (int) OPEN.invokeExact(c, cPath, flags, 0));
        }
    }

    /** dup(2). Returns the new descriptor (the lowest free one). */
    public static int dup(int fd, String name) {
        return Native.checked(name, c -> (int) DUP.invokeExact(c, fd));
    }

    /** dup2(2): {@code newFd} becomes a copy of {@code oldFd}. */
    public static void dup2(int oldFd, int newFd, String name) {
        Native.checked(name, c -> (int) DUP2.invokeExact(c, oldFd, newFd));
    }

    /** fcntl(2) with an integer argument (or none: pass 0); the result, or minus the errno. */
    public static int fcntl(int fd, int cmd, int arg) {
        return Native.orErrno(c -> (int) FCNTL.invokeExact(c, fd, cmd, arg));
    }

    /** getsockopt(2) of an int option; the value, or minus the errno (an option's value is never negative here). */
    public static int getsockoptInt(int fd, int level, int option) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(JAVA_INT);
            MemorySegment length = arena.allocate(JAVA_INT);
            length.set(JAVA_INT, 0, 4);
            int r = Native.orErrno(c -> (int) GETSOCKOPT.invokeExact(c, fd, level, option, value, length));
            return r < 0 ? r : value.get(JAVA_INT, 0);
        }
    }

    /** close(2). Errors are reported, not thrown: there is nothing a caller can do about them. */
    public static int close(int fd) {
        return Native.orErrno(c -> (int) CLOSE.invokeExact(c, fd));
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
     * ({@code KVM_RUN} returning EINTR) and the hot path must not build an exception. (Hot: written out,
     * see {@link Native}.)
     */
    public static int ioctlErrno(int fd, long request, MemorySegment arg) {
        MemorySegment capture = Native.capture();
        try {
            int r = (int) IOCTL_PTR.invokeExact(capture, fd, request, arg);
            return r < 0 ? -Native.errno(capture) : r;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** Same as {@link #ioctlErrno(int, long, MemorySegment)} with an integer argument. */
    public static int ioctlErrno(int fd, long request, long arg) {
        MemorySegment capture = Native.capture();
        try {
            int r = (int) IOCTL_LONG.invokeExact(capture, fd, request, arg);
            return r < 0 ? -Native.errno(capture) : r;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** mmap(2) of {@code length} bytes. The result is a zero-length segment holding the address. */
    public static MemorySegment mmap(long length, int prot, int flags, int fd, long offset, String name) {
        MemorySegment capture = Native.capture();
        MemorySegment p;
        try {
            p = (MemorySegment) MMAP.invokeExact(capture, MemorySegment.NULL, length, prot, flags, fd, offset);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (p.address() == MAP_FAILED.address()) {
            throw new SyscallException(name, Native.errno(capture));
        }
        return p;
    }

    /** munmap(2). */
    public static void munmap(long address, long length) {
        Native.checked("munmap", c -> (int) MUNMAP.invokeExact(c, MemorySegment.ofAddress(address), length));
    }

    /** memfd_create(2): an anonymous file (shared guest RAM). Returns its descriptor. */
    public static int memfdCreate(String name, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cName = arena.allocateFrom(name);
            return Native.checked("memfd_create(" + name + ")", c -> (int) MEMFD_CREATE.invokeExact(c, cName, flags));
        }
    }

    /** ftruncate(2). */
    public static void ftruncate(int fd, long length, String name) {
        Native.checked(name, c -> (int) FTRUNCATE.invokeExact(c, fd, length));
    }

    /** madvise(2) over {@code [address, address + length)}. */
    public static void madvise(long address, long length, int advice, String name) {
        Native.checked(name, c -> (int) MADVISE.invokeExact(c, MemorySegment.ofAddress(address), length, advice));
    }

    /** eventfd(2). */
    public static int eventfd(int initial, int flags) {
        return Native.checked("eventfd", c -> (int) EVENTFD.invokeExact(c, initial, flags));
    }

    /** read(2) into {@code buf}; returns bytes read, or minus the errno. */
    public static long read(int fd, MemorySegment buf, long count) {
        return transfer(READ, fd, buf, count);
    }

    /** write(2) from {@code buf}; returns bytes written, or minus the errno. */
    public static long write(int fd, MemorySegment buf, long count) {
        return transfer(WRITE, fd, buf, count);
    }

    /** readv(2) into {@code count} iovecs ({@link #IOVEC}); returns bytes read, or minus the errno. */
    public static long readv(int fd, MemorySegment iov, int count) {
        return transfer(READV, fd, iov, count);
    }

    /** writev(2) from {@code count} iovecs ({@link #IOVEC}); returns bytes written, or minus the errno. */
    public static long writev(int fd, MemorySegment iov, int count) {
        return transfer(WRITEV, fd, iov, count);
    }

    /**
     * read, write, readv or writev (all {@code ssize_t f(int, void*, size_t-or-int)}; the count travels as a
     * {@code long} and the iovec calls take its low 32 bits, as their descriptors say). Hot: written out.
     */
    private static long transfer(MethodHandle call, int fd, MemorySegment buf, long count) {
        MemorySegment capture = Native.capture();
        try {
            long n = (long) call.invokeExact(capture, fd, buf, count);
            return n < 0 ? -Native.errno(capture) : n;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /**
     * preadv(2) into {@code count} iovecs ({@link #IOVEC}) from file offset {@code offset}, leaving the file
     * position alone (so threads may share the descriptor); returns bytes read, or minus the errno.
     */
    public static long preadv(int fd, MemorySegment iov, int count, long offset) {
        return positional(PREADV, fd, iov, count, offset);
    }

    /** pwritev(2) from {@code count} iovecs at file offset {@code offset}; returns bytes written, or minus the errno. */
    public static long pwritev(int fd, MemorySegment iov, int count, long offset) {
        return positional(PWRITEV, fd, iov, count, offset);
    }

    /** {@link #transfer} for the positional iovec calls (preadv, pwritev), which take an offset too. */
    private static long positional(MethodHandle call, int fd, MemorySegment iov, int count, long offset) {
        MemorySegment capture = Native.capture();
        try {
            long n = (long) call.invokeExact(capture, fd, iov, count, offset);
            return n < 0 ? -Native.errno(capture) : n;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** fdatasync(2); 0, or minus the errno. */
    public static int fdatasync(int fd) {
        return Native.orErrno(c -> (int) FDATASYNC.invokeExact(c, fd));
    }

    /** lseek(2) ({@code whence}: 0 SEEK_SET, 1 SEEK_CUR, 2 SEEK_END); the new offset, or minus the errno. */
    public static long lseek(int fd, long offset, int whence) {
        MemorySegment capture = Native.capture();
        try {
            long n = (long) LSEEK.invokeExact(capture, fd, offset, whence);
            return n < 0 ? -Native.errno(capture) : n;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** fcntl(2) with a pointer argument (a {@code struct flock}); the result, or minus the errno. */
    public static int fcntl(int fd, int cmd, MemorySegment arg) {
        return Native.orErrno(c -> (int) FCNTL_PTR.invokeExact(c, fd, cmd, arg));
    }

    /** socket(2). Returns the new descriptor. */
    public static int socket(int domain, int type, int protocol, String name) {
        return Native.checked(name, c -> (int) SOCKET.invokeExact(c, domain, type, protocol));
    }

    /** socketpair(2). Returns the two connected descriptors. */
    public static int[] socketpair(int domain, int type, int protocol, String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fds = arena.allocate(JAVA_INT, 2);
            Native.checked(name, c -> (int) SOCKETPAIR.invokeExact(c, domain, type, protocol, fds));
            return new int[] {fds.getAtIndex(JAVA_INT, 0), fds.getAtIndex(JAVA_INT, 1)};
        }
    }

    /** epoll_create1(2). Returns the new epoll descriptor. */
    public static int epollCreate1(int flags) {
        return Native.checked("epoll_create1", c -> (int) EPOLL_CREATE1.invokeExact(c, flags));
    }

    /** epoll_ctl(2); {@code event} is a {@code struct epoll_event} ({@link Epoll#EVENT}), NULL for EPOLL_CTL_DEL. */
    public static void epollCtl(int epfd, int op, int fd, MemorySegment event, String name) {
        Native.checked(name, c -> (int) EPOLL_CTL.invokeExact(c, epfd, op, fd, event));
    }

    /**
     * epoll_wait(2) into {@code events} (an array of {@code struct epoll_event}); returns how many are ready,
     * or minus the errno (EINTR is an expected outcome for a loop that is being woken). Hot: written out.
     */
    public static int epollWait(int epfd, MemorySegment events, int maxEvents, int timeoutMillis) {
        MemorySegment capture = Native.capture();
        try {
            int n = (int) EPOLL_WAIT.invokeExact(capture, epfd, events, maxEvents, timeoutMillis);
            return n < 0 ? -Native.errno(capture) : n;
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** The host page size. */
    public static long pageSize() {
        return Native.plain(c -> (long) SYSCONF.invokeExact(c, SC_PAGESIZE));
    }
}
