package dev.nimbus.mshv.fd;

import dev.nimbus.host.IoctlFd;
import dev.nimbus.host.NativeIoctl;
import dev.nimbus.host.SyscallException;
import dev.nimbus.hypervisor.HypervisorException;
import dev.nimbus.mshv.abi.HvConstants;
import dev.nimbus.mshv.abi.MshvIoctls;

import java.lang.foreign.MemorySegment;
import java.lang.reflect.Field;
import java.util.HashMap;
import java.util.Map;

import static dev.nimbus.mshv.abi.MshvStructs.*;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The three kinds of MSHV file descriptor (/dev/mshv, a partition, a VP). {@link IoctlFd}, shared with the
 * KVM backend, owns the descriptor, repeats an ioctl interrupted before it did anything and turns -1/errno
 * into a {@link SyscallException} naming the ioctl; a call on a closed descriptor is a
 * {@link HypervisorException}. Here, in addition: {@code MSHV_ROOT_HVCALL}, the pass-through of a hypercall
 * that partitions and VPs both take, whose failure names the hypercall and the hypervisor's status.
 */
public abstract sealed class MshvFd extends IoctlFd permits MshvSystemFd, MshvPartitionFd, MshvVpFd {
    /**
     * Where a hypercall's pieces go in the thread's 512-byte scratch: {@code mshv_root_hvcall} at 0, the input at
     * {@link #HVCALL_IN}, the output at {@link #HVCALL_OUT}, each at most {@link #HVCALL_BUFFER} bytes. The
     * kernel copies both within the ioctl, so scratch serves, and the interrupt and register hypercalls of a
     * running VM allocate nothing.
     */
    static final long HVCALL_IN = 64;
    static final long HVCALL_OUT = 288;
    static final long HVCALL_BUFFER = 224;

    MshvFd(int fd, NativeIoctl nativeIoctl) {
        super(fd, nativeIoctl);
    }

    @Override
    protected RuntimeException closedError(String message) {
        return new HypervisorException(message);
    }

    /**
     * The scratch for a hypercall, zeroed up to the input's end plus {@code inSize} bytes (pass the whole
     * segment to {@link #rootHvcall}; fill the input at {@link #HVCALL_IN}).
     */
    static MemorySegment hvcallScratch(long inSize) {
        if (inSize > HVCALL_BUFFER) {
            throw new IllegalArgumentException("hypercall input of " + inSize + " bytes; at most " + HVCALL_BUFFER);
        }
        return scratch(HVCALL_IN + inSize);
    }

    /**
     * {@code MSHV_ROOT_HVCALL}: hypercall {@code code} with {@code inSize} bytes of input at {@link #HVCALL_IN}
     * of {@code s} (from {@link #hvcallScratch}) and room for {@code outSize} bytes of output at
     * {@link #HVCALL_OUT}; {@code reps} for a rep hypercall, else 0. The kernel fills in the partition id.
     * Returns the repetitions completed; a failure throws naming {@code name} and, when the hypervisor
     * answered, its status ({@code HV_STATUS_INVALID_PARAMETER}).
     */
    final int rootHvcall(MemorySegment s, int code, int reps, long inSize, long outSize, String name) {
        if (outSize > HVCALL_BUFFER) {
            throw new IllegalArgumentException("hypercall output of " + outSize + " bytes; at most " + HVCALL_BUFFER);
        }
        s.set(JAVA_SHORT, ROOT_HVCALL_CODE, (short) code);
        s.set(JAVA_SHORT, ROOT_HVCALL_REPS, (short) reps);
        s.set(JAVA_SHORT, ROOT_HVCALL_IN_SZ, (short) inSize);
        s.set(JAVA_SHORT, ROOT_HVCALL_OUT_SZ, (short) outSize);
        s.set(JAVA_SHORT, ROOT_HVCALL_STATUS, (short) 0);
        s.set(JAVA_LONG, ROOT_HVCALL_IN_PTR, s.address() + HVCALL_IN);
        s.set(JAVA_LONG, ROOT_HVCALL_OUT_PTR, outSize == 0 ? 0 : s.address() + HVCALL_OUT);
        int r = ioctlErrno(MshvIoctls.MSHV_ROOT_HVCALL, s, name);
        int status = Short.toUnsignedInt(s.get(JAVA_SHORT, ROOT_HVCALL_STATUS));
        if (r < 0) {
            throw status == HvConstants.HV_STATUS_SUCCESS ? new SyscallException(name, -r)
                    : new SyscallException(name, -r, "hypervisor status " + statusName(status));
        }
        return Short.toUnsignedInt(s.get(JAVA_SHORT, ROOT_HVCALL_REPS));
    }

    private static final Map<Integer, String> STATUS_NAMES = statusNames();

    private static Map<Integer, String> statusNames() {
        Map<Integer, String> m = new HashMap<>();
        for (Field f : HvConstants.class.getFields()) {
            if (f.getName().startsWith("HV_STATUS_")) {
                try {
                    m.put(f.getInt(null), f.getName());
                } catch (IllegalAccessException e) {
                    throw new AssertionError(e);
                }
            }
        }
        return Map.copyOf(m);
    }

    /** {@code 0x5 (HV_STATUS_INVALID_PARAMETER)}, or the number alone for a status this backend does not name. */
    static String statusName(int status) {
        String n = STATUS_NAMES.get(status);
        return String.format("0x%x", status) + (n == null ? "" : " (" + n + ")");
    }
}
