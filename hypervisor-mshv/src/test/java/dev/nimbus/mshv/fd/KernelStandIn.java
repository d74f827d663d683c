package dev.nimbus.mshv.fd;

import dev.nimbus.host.NativeIoctl;
import dev.nimbus.mshv.abi.MshvIoctls;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static dev.nimbus.mshv.abi.MshvStructs.*;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * A stand-in for the mshv driver, so the descriptor classes' argument-filling code runs without /dev/mshv
 * (there is none on this project's machines): it keeps a copy of every argument as the kernel would read it
 * (for {@code MSHV_ROOT_HVCALL} also the hypercall's input), answers from a script of results (minus an errno
 * for a failure, then 0) and, for a hypercall, reports every repetition done and the scripted hypervisor
 * status, filling a get-registers output with {@code name * 0x100 + word} per 64-bit word, or with the value
 * {@link #registers} holds for that name (its low word; the high word 0), and translating a guest virtual
 * address through the page table {@link #pageTable} holds. Public for the VP run loop's tests
 * in {@code dev.nimbus.mshv.vp}, the other layer allowed this stand-in.
 */
public final class KernelStandIn implements NativeIoctl {
    public record Call(long request, byte[] arg, byte[] hvcallInput) {
        public MemorySegment argument() {
            return MemorySegment.ofArray(arg);
        }

        public MemorySegment input() {
            return MemorySegment.ofArray(hvcallInput);
        }
    }

    public final List<Call> calls = new ArrayList<>();
    /**
     * The descriptors {@code MSHV_CREATE_PARTITION} and {@code MSHV_CREATE_VP} return, when set: real ones the
     * test opened (of /dev/null), since closing a descriptor object closes its number for real.
     */
    public java.util.function.IntSupplier newFd;
    /** When set, what {@code MSHV_RUN_VP} does instead of returning {@link #messages}: its result. */
    public java.util.function.IntSupplier runVp;
    /** The messages {@code MSHV_RUN_VP} returns, in order; once none is left it fails with EINTR. */
    public final java.util.ArrayDeque<MemorySegment> messages = new java.util.ArrayDeque<>();
    /** What {@code HVCALL_GET_VP_REGISTERS} answers, by register name value; others get the pattern above. */
    public final java.util.Map<Integer, Long> registers = new java.util.HashMap<>();
    /** The high word of a value in {@link #registers} (0 where absent), for the 128-bit registers. */
    public final java.util.Map<Integer, Long> registersHigh = new java.util.HashMap<>();
    /**
     * What {@code HVCALL_GET_VP_CPUID_VALUES} answers for a leaf and subleaf: EAX, EBX, ECX, EDX (all 0 when
     * unset or when it answers null).
     */
    public java.util.function.BiFunction<Integer, Integer, int[]> cpuid;
    /**
     * The VP state {@code MSHV_GET_VP_STATE} copies into the caller's buffer, by {@code MSHV_VP_STATE_*} type (its
     * start; the rest of the buffer is zeroed). {@code MSHV_SET_VP_STATE} records the buffer it was given as its
     * call's {@link Call#input()} and keeps it here, as the kernel would.
     */
    public final java.util.Map<Integer, byte[]> vpState = new java.util.HashMap<>();
    /**
     * The guest's page tables as {@code HVCALL_TRANSLATE_VIRTUAL_ADDRESS} walks them: guest virtual page number to
     * guest physical page number. A page absent here answers {@link #translationFaults}' code for it, else
     * {@code HV_TRANSLATE_GVA_PAGE_NOT_PRESENT}, with a GPA page of all ones (which must not be used).
     */
    public final java.util.Map<Long, Long> pageTable = new java.util.HashMap<>();
    /** Result codes {@code HVCALL_TRANSLATE_VIRTUAL_ADDRESS} answers for a guest virtual page number instead. */
    public final java.util.Map<Long, Integer> translationFaults = new java.util.HashMap<>();
    private final int[] results;
    private final int hvStatus;
    private int next;

    KernelStandIn(int hvStatus, int... results) {
        this.hvStatus = hvStatus;
        this.results = results.clone();
    }

    public KernelStandIn() {
        this(0);
    }

    MshvPartitionFd partition() {
        return new MshvPartitionFd(-1, this);
    }

    public MshvSystemFd system() {
        return new MshvSystemFd(-1, this);
    }

    public MshvVpFd vp(int index) {
        return new MshvVpFd(-1, index, this);
    }

    Call last() {
        return calls.getLast();
    }

    @Override
    public int ioctl(int fd, long request, MemorySegment arg) {
        long size = (request >>> 16) & 0x3FFF;
        MemorySegment a = arg.byteSize() < size ? arg.reinterpret(Math.max(size, 8)) : arg;
        if (request == MshvIoctls.MSHV_SET_MSI_ROUTING) {
            size += 16L * a.get(JAVA_INT_AT0, 0);
            a = arg.reinterpret(size);
        }
        byte[] input = new byte[0];
        if (request == MshvIoctls.MSHV_ROOT_HVCALL) {
            int inSize = Short.toUnsignedInt(a.get(JAVA_SHORT, ROOT_HVCALL_IN_SZ));
            input = MemorySegment.ofAddress(a.get(JAVA_LONG, ROOT_HVCALL_IN_PTR)).reinterpret(inSize).toArray(BYTES);
            a.set(JAVA_SHORT, ROOT_HVCALL_STATUS, (short) hvStatus);
            int outSize = Short.toUnsignedInt(a.get(JAVA_SHORT, ROOT_HVCALL_OUT_SZ));
            int code = Short.toUnsignedInt(a.get(JAVA_SHORT, ROOT_HVCALL_CODE));
            if (code == dev.nimbus.mshv.abi.HvConstants.HVCALL_GET_VP_CPUID_VALUES) {
                MemorySegment out = MemorySegment.ofAddress(a.get(JAVA_LONG, ROOT_HVCALL_OUT_PTR)).reinterpret(outSize);
                MemorySegment in = MemorySegment.ofArray(input);
                for (int i = 0; i < outSize / 16; i++) {
                    long q = 24 + 24L * i;
                    int[] r = cpuid == null ? null : cpuid.apply(in.get(JAVA_INT_AT0, q), in.get(JAVA_INT_AT0, q + 4));
                    for (int w = 0; w < 4; w++) {
                        out.set(JAVA_INT_AT0, 16L * i + 4 * w, r == null ? 0 : r[w]);
                    }
                }
            } else if (code == dev.nimbus.mshv.abi.HvConstants.HVCALL_TRANSLATE_VIRTUAL_ADDRESS) {
                MemorySegment out = MemorySegment.ofAddress(a.get(JAVA_LONG, ROOT_HVCALL_OUT_PTR)).reinterpret(outSize);
                long gvaPage = MemorySegment.ofArray(input).get(JAVA_LONG_AT0, dev.nimbus.mshv.abi.HvStructs.TRANSLATE_GVA_PAGE);
                Long gpaPage = translationFaults.containsKey(gvaPage) ? null : pageTable.get(gvaPage);
                int result = gpaPage != null ? dev.nimbus.mshv.abi.HvConstants.HV_TRANSLATE_GVA_SUCCESS
                        : translationFaults.getOrDefault(gvaPage, dev.nimbus.mshv.abi.HvConstants.HV_TRANSLATE_GVA_PAGE_NOT_PRESENT);
                out.set(JAVA_LONG_AT0, 0, 6L << 32 | result); // write-back cache type above the code
                out.set(JAVA_INT_AT0, dev.nimbus.mshv.abi.HvStructs.TRANSLATE_RESULT_CODE, result);
                out.set(JAVA_LONG_AT0, dev.nimbus.mshv.abi.HvStructs.TRANSLATE_GPA_PAGE, gpaPage != null ? gpaPage : -1L);
            } else if (outSize > 0) {
                MemorySegment out = MemorySegment.ofAddress(a.get(JAVA_LONG, ROOT_HVCALL_OUT_PTR)).reinterpret(outSize);
                for (int i = 0; i < outSize / 16; i++) {
                    int name = MemorySegment.ofArray(input).get(JAVA_INT_AT0, 16 + 4L * i);
                    Long value = registers.get(name);
                    out.set(JAVA_LONG_AT0, 16L * i, value != null ? value : (long) name * 0x100);
                    out.set(JAVA_LONG_AT0, 16L * i + 8, value != null ? registersHigh.getOrDefault(name, 0L) : (long) name * 0x100 + 1);
                }
            }
        }
        if (request == MshvIoctls.MSHV_GET_VP_STATE || request == MshvIoctls.MSHV_SET_VP_STATE) {
            int type = Byte.toUnsignedInt(a.get(BYTES, VP_STATE_TYPE));
            MemorySegment buffer = MemorySegment.ofAddress(a.get(JAVA_LONG, VP_STATE_BUF_PTR))
                    .reinterpret(Integer.toUnsignedLong(a.get(JAVA_INT_AT0, VP_STATE_BUF_SZ)));
            if (request == MshvIoctls.MSHV_SET_VP_STATE) {
                input = buffer.toArray(BYTES);
                vpState.put(type, input.clone());
            } else {
                buffer.fill((byte) 0);
                byte[] state = vpState.getOrDefault(type, new byte[0]);
                MemorySegment.copy(MemorySegment.ofArray(state), 0, buffer, 0, Math.min(state.length, buffer.byteSize()));
            }
        }
        calls.add(new Call(request, a.asSlice(0, size).toArray(BYTES), input));
        if (newFd != null && (request == MshvIoctls.MSHV_CREATE_PARTITION || request == MshvIoctls.MSHV_CREATE_VP)) {
            return newFd.getAsInt();
        }
        if (request == MshvIoctls.MSHV_RUN_VP && runVp != null) {
            return runVp.getAsInt();
        }
        if (request == MshvIoctls.MSHV_RUN_VP) {
            MemorySegment m = messages.poll();
            if (m == null) {
                return -dev.nimbus.host.Errno.EINTR;
            }
            a.copyFrom(m);
        }
        return answer();
    }

    @Override
    public int ioctl(int fd, long request, long arg) {
        calls.add(new Call(request, new byte[0], new byte[0]));
        return answer();
    }

    private int answer() {
        return next < results.length ? results[next++] : 0;
    }

    private static final java.lang.foreign.ValueLayout.OfByte BYTES = java.lang.foreign.ValueLayout.JAVA_BYTE;
    private static final java.lang.foreign.ValueLayout.OfInt JAVA_INT_AT0 = java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
    private static final java.lang.foreign.ValueLayout.OfLong JAVA_LONG_AT0 = java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
}
