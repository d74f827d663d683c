package dev.nimbus.host;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * Landlock (linux/landlock.h): a process restricts its own access to the file system to the hierarchies a
 * {@link Ruleset} names. The three system calls have the same numbers on x86-64, arm64 and riscv64
 * (asm-generic/unistd.h; x86-64's table gives them the same numbers), and are made through {@code syscall(2)}
 * since glibc has no wrappers.
 *
 * <p>{@code landlock_restrict_self} restricts the calling thread only (and the threads it creates
 * afterwards): the kernels Nimbus runs on have no flag to restrict a whole process at once. So a ruleset is
 * {@linkplain #enforce enforced} once for the process, on one thread, and every other thread that does
 * Nimbus's work calls {@link #joinEnforced()} at its next unit of work (a request, a queue notification, a
 * vCPU's start), which restricts it with the same ruleset unless it already is (because it was created by a
 * restricted thread). docs/security.md lists which threads do.
 */
public final class Landlock {
    public static final long SYS_LANDLOCK_CREATE_RULESET = 444;
    public static final long SYS_LANDLOCK_ADD_RULE = 445;
    public static final long SYS_LANDLOCK_RESTRICT_SELF = 446;
    public static final int LANDLOCK_CREATE_RULESET_VERSION = 1;
    public static final int LANDLOCK_RULE_PATH_BENEATH = 1;
    public static final int PR_SET_NO_NEW_PRIVS = 38;
    /** {@code O_PATH}: a descriptor that only names a file, which is what a rule takes. */
    public static final int O_PATH = 0x200000;
    /** {@code O_DIRECTORY} of the architecture this JVM runs on ({@link #oDirectory}). */
    public static final int O_DIRECTORY = oDirectory(System.getProperty("os.arch"));

    /** {@code O_DIRECTORY} on {@code arch} (as {@code os.arch} names it): AArch64 has its own (0x10000 is its O_DIRECT). */
    static int oDirectory(String arch) {
        return "aarch64".equals(arch) ? 0x4000 : 0x10000;
    }

    // access rights (ABI 1 unless said)
    public static final long ACCESS_FS_EXECUTE = 1L;
    public static final long ACCESS_FS_WRITE_FILE = 1L << 1;
    public static final long ACCESS_FS_READ_FILE = 1L << 2;
    public static final long ACCESS_FS_READ_DIR = 1L << 3;
    public static final long ACCESS_FS_REMOVE_DIR = 1L << 4;
    public static final long ACCESS_FS_REMOVE_FILE = 1L << 5;
    public static final long ACCESS_FS_MAKE_CHAR = 1L << 6;
    public static final long ACCESS_FS_MAKE_DIR = 1L << 7;
    public static final long ACCESS_FS_MAKE_REG = 1L << 8;
    public static final long ACCESS_FS_MAKE_SOCK = 1L << 9;
    public static final long ACCESS_FS_MAKE_FIFO = 1L << 10;
    public static final long ACCESS_FS_MAKE_BLOCK = 1L << 11;
    public static final long ACCESS_FS_MAKE_SYM = 1L << 12;
    /** ABI 2: linking or renaming a file into another directory. */
    public static final long ACCESS_FS_REFER = 1L << 13;
    /** ABI 3: truncate(2), ftruncate(2) on a file opened after restriction, O_TRUNC. */
    public static final long ACCESS_FS_TRUNCATE = 1L << 14;
    /** ABI 5: ioctl(2) on a device file opened after restriction (a tap, /dev/kvm, a pty). */
    public static final long ACCESS_FS_IOCTL_DEV = 1L << 15;

    /** The rights that apply to a file (the others apply to a directory's entries). */
    static final long FILE_RIGHTS = ACCESS_FS_EXECUTE | ACCESS_FS_WRITE_FILE | ACCESS_FS_READ_FILE | ACCESS_FS_TRUNCATE
            | ACCESS_FS_IOCTL_DEV;

    /** {@code struct landlock_ruleset_attr} as ABI 1 has it; later ABIs append members a shorter struct leaves 0. */
    public static final StructLayout RULESET_ATTR = MemoryLayout.structLayout(JAVA_LONG.withName("handled_access_fs"));
    /** {@code struct landlock_path_beneath_attr}, packed: 12 bytes. */
    public static final StructLayout PATH_BENEATH_ATTR = MemoryLayout.structLayout(
            JAVA_LONG_UNALIGNED.withName("allowed_access"), JAVA_INT_UNALIGNED.withName("parent_fd"));
    private static final VarHandle HANDLED = RULESET_ATTR.varHandle(MemoryLayout.PathElement.groupElement("handled_access_fs"));
    private static final VarHandle ALLOWED = PATH_BENEATH_ATTR.varHandle(MemoryLayout.PathElement.groupElement("allowed_access"));
    private static final VarHandle PARENT_FD = PATH_BENEATH_ATTR.varHandle(MemoryLayout.PathElement.groupElement("parent_fd"));

    // syscall(2) reads each argument as a long, so every one travels as a long
    private static final MethodHandle SYSCALL3 = Native.downcall("syscall",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG), Linker.Option.firstVariadicArg(1));
    private static final MethodHandle SYSCALL4 = Native.downcall("syscall",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
            Linker.Option.firstVariadicArg(1));
    private static final MethodHandle SYSCALL3_PTR = Native.downcall("syscall",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG), Linker.Option.firstVariadicArg(1));
    private static final MethodHandle SYSCALL4_PTR = Native.downcall("syscall",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG),
            Linker.Option.firstVariadicArg(1));
    private static final MethodHandle PRCTL = Native.downcall("prctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG), Linker.Option.firstVariadicArg(1));

    /** The ruleset enforced for the process, once {@link #enforce} ran; threads join it. */
    private static volatile Ruleset enforced;
    private static final ThreadLocal<Boolean> JOINED = ThreadLocal.withInitial(() -> false);

    private Landlock() {}

    /**
     * The Landlock ABI version the running kernel offers (1 to 7 on the kernels of 2025), or 0 when it has
     * none: built without it (ENOSYS) or not in the boot's list of security modules (EOPNOTSUPP).
     */
    public static int abiVersion() {
        int r = (int) Native.plain(c -> (long) SYSCALL3.invokeExact(c, SYS_LANDLOCK_CREATE_RULESET, 0L, 0L,
                (long) LANDLOCK_CREATE_RULESET_VERSION));
        return Math.max(r, 0);
    }

    /** The file-system rights an ABI version handles: every one it knows. */
    public static long handledRights(int abi) {
        if (abi < 1) {
            throw new IllegalArgumentException("Landlock ABI " + abi);
        }
        long rights = (ACCESS_FS_MAKE_SYM << 1) - 1; // ABI 1: EXECUTE to MAKE_SYM
        if (abi >= 2) {
            rights |= ACCESS_FS_REFER;
        }
        if (abi >= 3) {
            rights |= ACCESS_FS_TRUNCATE;
        }
        if (abi >= 5) {
            rights |= ACCESS_FS_IOCTL_DEV;
        }
        return rights;
    }

    /** What "read" grants on a hierarchy: reading files and listing directories (ioctl on devices from ABI 5). */
    public static long readRights(int abi) {
        return (ACCESS_FS_READ_FILE | ACCESS_FS_READ_DIR | ACCESS_FS_IOCTL_DEV) & handledRights(abi);
    }

    /**
     * What "write" grants on a hierarchy: writing and truncating files, making and removing entries of every
     * kind, renaming across directories (ioctl on devices from ABI 5).
     */
    public static long writeRights(int abi) {
        return (ACCESS_FS_WRITE_FILE | ACCESS_FS_TRUNCATE | ACCESS_FS_IOCTL_DEV | ACCESS_FS_REMOVE_DIR | ACCESS_FS_REMOVE_FILE
                | ACCESS_FS_MAKE_CHAR | ACCESS_FS_MAKE_DIR | ACCESS_FS_MAKE_REG | ACCESS_FS_MAKE_SOCK | ACCESS_FS_MAKE_FIFO
                | ACCESS_FS_MAKE_BLOCK | ACCESS_FS_MAKE_SYM | ACCESS_FS_REFER) & handledRights(abi);
    }

    /**
     * A ruleset under construction: every right its ABI knows is handled (denied unless a rule allows it).
     * It owns its descriptor; an {@linkplain #enforce enforced} one stays open for the threads that join it.
     */
    public static final class Ruleset implements AutoCloseable {
        private final int abi;
        private final int fd;

        private Ruleset(int abi, int fd) {
            this.abi = abi;
            this.fd = fd;
        }

        /** A new ruleset for the kernel's ABI; throws when the kernel has no Landlock. */
        public static Ruleset create() {
            int abi = abiVersion();
            if (abi < 1) {
                throw new SyscallException("landlock_create_ruleset", Errno.EOPNOTSUPP, "this kernel has no Landlock");
            }
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment attr = arena.allocate(RULESET_ATTR);
                HANDLED.set(attr, 0L, handledRights(abi));
                int fd = (int) check("landlock_create_ruleset", Native.plain(c -> (long) SYSCALL3_PTR.invokeExact(c,
                        SYS_LANDLOCK_CREATE_RULESET, attr, RULESET_ATTR.byteSize(), 0L)));
                return new Ruleset(abi, fd);
            }
        }

        /** The ABI version the ruleset was made for. */
        public int abi() {
            return abi;
        }

        /**
         * Allows {@code rights} beneath {@code path} (on the file itself for a file: the directory-only rights
         * are dropped there, as the kernel refuses them on a file).
         */
        public Ruleset allow(Path path, long rights) {
            boolean dir = Files.isDirectory(path);
            long allowed = (dir ? rights : rights & FILE_RIGHTS) & handledRights(abi);
            if (allowed == 0) {
                return this;
            }
            int pathFd = LibC.open(path.toString(), O_PATH | LibC.O_CLOEXEC, 0);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment attr = arena.allocate(PATH_BENEATH_ATTR);
                ALLOWED.set(attr, 0L, allowed);
                PARENT_FD.set(attr, 0L, pathFd);
                check("landlock_add_rule(" + path + ")", Native.plain(c -> (long) SYSCALL4_PTR.invokeExact(c,
                        SYS_LANDLOCK_ADD_RULE, (long) fd, (long) LANDLOCK_RULE_PATH_BENEATH, attr, 0L)));
            } finally {
                LibC.close(pathFd);
            }
            return this;
        }

        /** Restricts the calling thread (and the threads it creates from now on) to this ruleset. */
        public void restrictCurrentThread() {
            Native.checked("prctl(PR_SET_NO_NEW_PRIVS)", c -> (int) PRCTL.invokeExact(c, PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L));
            check("landlock_restrict_self", Native.plain(c -> (long) SYSCALL3.invokeExact(c, SYS_LANDLOCK_RESTRICT_SELF,
                    (long) fd, 0L, 0L)));
        }

        @Override
        public void close() {
            if (enforced != this) {
                LibC.close(fd);
            }
        }
    }

    /**
     * Enforces {@code ruleset} for the process from now on: restricts the calling thread, and makes every
     * later {@link #joinEnforced()} restrict its thread too. Once only.
     */
    public static synchronized void enforce(Ruleset ruleset) {
        if (enforced != null) {
            throw new IllegalStateException("a Landlock ruleset is already enforced");
        }
        ruleset.restrictCurrentThread();
        enforced = ruleset;
        JOINED.set(true);
    }

    /** Whether a ruleset is enforced for the process. */
    public static boolean isEnforced() {
        return enforced != null;
    }

    /**
     * Restricts the calling thread with the enforced ruleset, if there is one and the thread is not restricted
     * yet; cheap when there is nothing to do (a volatile read), so a thread may call it at each unit of work.
     * A thread created by a restricted thread already is: the kernel is asked (the root directory, which no
     * rule of Nimbus's lists, cannot be read under the ruleset) so that it gets no second layer.
     */
    public static void joinEnforced() {
        Ruleset r = enforced;
        if (r == null || JOINED.get()) {
            return;
        }
        if (!alreadyRestricted()) {
            r.restrictCurrentThread();
        }
        JOINED.set(true);
    }

    private static boolean alreadyRestricted() {
        int fd = LibC.openErrno("/", LibC.O_RDONLY | O_DIRECTORY | LibC.O_CLOEXEC);
        if (fd >= 0) {
            LibC.close(fd);
            return false;
        }
        return -fd == Errno.EACCES;
    }

    private static long check(String name, long result) {
        if (result < 0) {
            throw new SyscallException(name, Native.errno(Native.capture()));
        }
        return result;
    }
}
