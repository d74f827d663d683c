package dev.nimbus.host;

/**
 * Linux errno values by name. The numbers are the asm-generic ones, which x86-64, AArch64 and riscv64
 * share, so one table serves the three architectures Nimbus runs on.
 */
public final class Errno {
    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int EINTR = 4;
    public static final int EIO = 5;
    public static final int ENXIO = 6;
    public static final int E2BIG = 7;
    public static final int EBADF = 9;
    public static final int EAGAIN = 11;
    public static final int ENOMEM = 12;
    public static final int EACCES = 13;
    public static final int EFAULT = 14;
    public static final int EBUSY = 16;
    public static final int EEXIST = 17;
    public static final int ENODEV = 19;
    public static final int EINVAL = 22;
    public static final int ENFILE = 23;
    public static final int EMFILE = 24;
    public static final int ENOTTY = 25;
    public static final int ENOSPC = 28;
    public static final int ERANGE = 34;
    public static final int ENOSYS = 38;
    public static final int ENOTSOCK = 88;
    public static final int EOPNOTSUPP = 95;

    private static final String[][] NAMES = {
        {"EPERM", "Operation not permitted"}, {"ENOENT", "No such file or directory"},
        {"ESRCH", "No such process"}, {"EINTR", "Interrupted system call"},
        {"EIO", "Input/output error"}, {"ENXIO", "No such device or address"},
        {"E2BIG", "Argument list too long"}, {"ENOEXEC", "Exec format error"},
        {"EBADF", "Bad file descriptor"}, {"ECHILD", "No child processes"},
        {"EAGAIN", "Resource temporarily unavailable"}, {"ENOMEM", "Cannot allocate memory"},
        {"EACCES", "Permission denied"}, {"EFAULT", "Bad address"},
        {"ENOTBLK", "Block device required"}, {"EBUSY", "Device or resource busy"},
        {"EEXIST", "File exists"}, {"EXDEV", "Invalid cross-device link"},
        {"ENODEV", "No such device"}, {"ENOTDIR", "Not a directory"},
        {"EISDIR", "Is a directory"}, {"EINVAL", "Invalid argument"},
        {"ENFILE", "Too many open files in system"}, {"EMFILE", "Too many open files"},
        {"ENOTTY", "Inappropriate ioctl for device"}, {"ETXTBSY", "Text file busy"},
        {"EFBIG", "File too large"}, {"ENOSPC", "No space left on device"},
        {"ESPIPE", "Illegal seek"}, {"EROFS", "Read-only file system"},
        {"EMLINK", "Too many links"}, {"EPIPE", "Broken pipe"},
        {"EDOM", "Numerical argument out of domain"}, {"ERANGE", "Numerical result out of range"},
        {"EDEADLK", "Resource deadlock avoided"}, {"ENAMETOOLONG", "File name too long"},
        {"ENOLCK", "No locks available"}, {"ENOSYS", "Function not implemented"},
    };

    private Errno() {}

    /** {@code ENOENT (No such file or directory)} for 2; {@code errno 123} for numbers not in the table. */
    public static String describe(int errno) {
        if (errno >= 1 && errno <= NAMES.length) {
            return NAMES[errno - 1][0] + " (" + NAMES[errno - 1][1] + ")";
        }
        if (errno == ENOTSOCK) {
            return "ENOTSOCK (Socket operation on non-socket)";
        }
        if (errno == EOPNOTSUPP) {
            return "EOPNOTSUPP (Operation not supported)";
        }
        return "errno " + errno;
    }

    /** The symbolic name alone ({@code ENOENT}), or {@code errno N}. */
    public static String name(int errno) {
        if (errno >= 1 && errno <= NAMES.length) {
            return NAMES[errno - 1][0];
        }
        return errno == EOPNOTSUPP ? "EOPNOTSUPP" : "errno " + errno;
    }
}
