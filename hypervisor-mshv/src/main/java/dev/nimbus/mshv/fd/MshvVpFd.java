package dev.nimbus.mshv.fd;

import dev.nimbus.host.NativeIoctl;
import dev.nimbus.hypervisor.HypervisorException;
import dev.nimbus.mshv.abi.HvConstants;
import dev.nimbus.mshv.abi.HvRegisterName;
import dev.nimbus.mshv.abi.MshvIoctls;

import java.lang.foreign.MemorySegment;

import static dev.nimbus.mshv.abi.HvStructs.*;
import static dev.nimbus.mshv.abi.MshvStructs.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * A virtual processor: running it, its registers (through the get/set-VP-registers hypercalls, in batches)
 * and its LAPIC/XSAVE state. Upstream's uapi has no register ioctls for a child partition's VPs: registers
 * are hypercalls passed through {@code MSHV_ROOT_HVCALL} on the VP fd.
 */
public final class MshvVpFd extends MshvFd {
    /** Registers per {@code HVCALL_GET_VP_REGISTERS}: 16 bytes of output each, in {@link #HVCALL_BUFFER}. */
    public static final int GET_BATCH = (int) (HVCALL_BUFFER / HV_REGISTER_VALUE.byteSize());
    /** Registers per {@code HVCALL_SET_VP_REGISTERS}: 32 bytes of input each after the 16-byte header. */
    public static final int SET_BATCH = (int) ((HVCALL_BUFFER - VP_REGISTERS_ELEMENTS) / HV_REGISTER_ASSOC.byteSize());

    private final int index;

    MshvVpFd(int fd, int index, NativeIoctl nativeIoctl) {
        super(fd, nativeIoctl);
        this.index = index;
    }

    /** The VP's index in its partition. */
    public int index() {
        return index;
    }

    /**
     * {@code MSHV_RUN_VP}, exactly once: runs the VP until it stops with a message, copied into {@code message}
     * (at least {@link dev.nimbus.mshv.abi.MshvConstants#MSHV_RUN_VP_BUF_SZ} bytes). Returns 0, or minus the
     * errno (EINTR when a kick's signal arrived; the run loop decides), never throws for an errno.
     */
    public int run(MemorySegment message) {
        if (message.byteSize() < MSHV_RUN_VP.byteSize()) {
            throw new IllegalArgumentException("MSHV_RUN_VP needs a " + MSHV_RUN_VP.byteSize() + "-byte buffer");
        }
        checkOpen("MSHV_RUN_VP");
        return ioctlOnce(MshvIoctls.MSHV_RUN_VP, message);
    }

    /**
     * {@code HVCALL_GET_VP_REGISTERS}: the values of {@code names}, each 16 bytes ({@code hv_register_value}) at
     * {@code 16 * i} of {@code values}, in batches of {@link #GET_BATCH}.
     */
    public void getRegisters(HvRegisterName[] names, MemorySegment values) {
        long valueSize = HV_REGISTER_VALUE.byteSize();
        checkValues(names, values, valueSize);
        for (int from = 0; from < names.length; from += GET_BATCH) {
            int n = Math.min(GET_BATCH, names.length - from);
            long inSize = VP_REGISTERS_ELEMENTS + 4L * n;
            MemorySegment s = hvcallScratch(inSize);
            s.set(JAVA_INT_UNALIGNED, HVCALL_IN + VP_REGISTERS_VP_INDEX, index);
            for (int i = 0; i < n; i++) {
                s.set(JAVA_INT_UNALIGNED, HVCALL_IN + VP_REGISTERS_ELEMENTS + 4L * i, names[from + i].value());
            }
            int done = rootHvcall(s, HvConstants.HVCALL_GET_VP_REGISTERS, n, inSize, n * valueSize,
                    "HVCALL_GET_VP_REGISTERS(" + names[from] + (n > 1 ? ".." + names[from + n - 1] : "") + ")");
            checkReps(done, n, "HVCALL_GET_VP_REGISTERS");
            MemorySegment.copy(s, HVCALL_OUT, values, from * valueSize, n * valueSize);
        }
    }

    /**
     * {@code HVCALL_SET_VP_REGISTERS}: sets {@code names} to the 16-byte values at {@code 16 * i} of
     * {@code values}, in batches of {@link #SET_BATCH}.
     */
    public void setRegisters(HvRegisterName[] names, MemorySegment values) {
        long valueSize = HV_REGISTER_VALUE.byteSize();
        long assoc = HV_REGISTER_ASSOC.byteSize();
        checkValues(names, values, valueSize);
        for (int from = 0; from < names.length; from += SET_BATCH) {
            int n = Math.min(SET_BATCH, names.length - from);
            long inSize = VP_REGISTERS_ELEMENTS + assoc * n;
            MemorySegment s = hvcallScratch(inSize);
            s.set(JAVA_INT_UNALIGNED, HVCALL_IN + VP_REGISTERS_VP_INDEX, index);
            for (int i = 0; i < n; i++) {
                long e = HVCALL_IN + VP_REGISTERS_ELEMENTS + assoc * i;
                s.set(JAVA_INT_UNALIGNED, e + REGISTER_ASSOC_NAME, names[from + i].value());
                MemorySegment.copy(values, (from + i) * valueSize, s, e + REGISTER_ASSOC_VALUE, valueSize);
            }
            int done = rootHvcall(s, HvConstants.HVCALL_SET_VP_REGISTERS, n, inSize, 0,
                    "HVCALL_SET_VP_REGISTERS(" + names[from] + (n > 1 ? ".." + names[from + n - 1] : "") + ")");
            checkReps(done, n, "HVCALL_SET_VP_REGISTERS");
        }
    }

    /**
     * What {@link #translateVirtualAddress} found: the hypervisor's {@code HV_TRANSLATE_GVA_*} result code and, on
     * success ({@code HV_TRANSLATE_GVA_SUCCESS}), the guest physical address of the byte asked for.
     */
    public record GvaTranslation(int resultCode, long gpa) {
        public boolean success() {
            return resultCode == HvConstants.HV_TRANSLATE_GVA_SUCCESS;
        }

        /** {@code 0x1 (HV_TRANSLATE_GVA_PAGE_NOT_PRESENT)}, or the number alone for a code this backend does not name. */
        public String resultName() {
            String n = RESULT_NAMES.get(resultCode);
            return String.format("0x%x", resultCode) + (n == null ? "" : " (" + n + ")");
        }

        private static final java.util.Map<Integer, String> RESULT_NAMES = resultNames();

        private static java.util.Map<Integer, String> resultNames() {
            java.util.Map<Integer, String> m = new java.util.HashMap<>();
            for (java.lang.reflect.Field f : HvConstants.class.getFields()) {
                if (f.getName().startsWith("HV_TRANSLATE_GVA_") && f.getType() == int.class) {
                    try {
                        m.put(f.getInt(null), f.getName());
                    } catch (IllegalAccessException e) {
                        throw new AssertionError(e);
                    }
                }
            }
            return java.util.Map.copyOf(m);
        }
    }

    /**
     * {@code HVCALL_TRANSLATE_VIRTUAL_ADDRESS}: the guest physical address of guest virtual {@code gva} through this
     * VP's page tables as they stand, checked for the access {@code flags} ({@code HV_TRANSLATE_GVA_*}) names. A
     * translation the guest's tables or the partition's mapping refuse is an answer (its result code), not an
     * exception; a hypercall the hypervisor fails throws naming its status.
     */
    public GvaTranslation translateVirtualAddress(long gva, long flags) {
        long inSize = HV_INPUT_TRANSLATE_VIRTUAL_ADDRESS.byteSize();
        MemorySegment s = hvcallScratch(inSize);
        s.set(JAVA_INT_UNALIGNED, HVCALL_IN + TRANSLATE_VP_INDEX, index);
        s.set(JAVA_LONG_UNALIGNED, HVCALL_IN + TRANSLATE_CONTROL_FLAGS, flags);
        s.set(JAVA_LONG_UNALIGNED, HVCALL_IN + TRANSLATE_GVA_PAGE, gva >>> PAGE_SHIFT);
        rootHvcall(s, HvConstants.HVCALL_TRANSLATE_VIRTUAL_ADDRESS, 0, inSize, HV_OUTPUT_TRANSLATE_VIRTUAL_ADDRESS.byteSize(),
                String.format("HVCALL_TRANSLATE_VIRTUAL_ADDRESS(0x%x)", gva));
        int result = s.get(JAVA_INT_UNALIGNED, HVCALL_OUT + TRANSLATE_RESULT_CODE);
        long page = s.get(JAVA_LONG_UNALIGNED, HVCALL_OUT + TRANSLATE_GPA_PAGE);
        return new GvaTranslation(result, result == HvConstants.HV_TRANSLATE_GVA_SUCCESS
                ? page << PAGE_SHIFT | (gva & ((1L << PAGE_SHIFT) - 1)) : -1);
    }

    /** The hypervisor's page: 4 KiB, whatever the guest's page tables map with. */
    private static final int PAGE_SHIFT = 12;

    /** CPUID queries per {@code HVCALL_GET_VP_CPUID_VALUES}: 24 bytes of input and 16 of output each. */
    public static final int CPUID_BATCH = (int) Math.min((HVCALL_BUFFER - GET_CPUID_VALUES_LEAVES) / HV_CPUID_LEAF_INFO.byteSize(),
            HVCALL_BUFFER / HV_OUTPUT_GET_VP_CPUID_VALUES.byteSize());

    /**
     * {@code HVCALL_GET_VP_CPUID_VALUES}: what the hypervisor answers this VP for leaf {@code leaves[i]}, subleaf
     * {@code subleaves[i]}, for the VP's own XCR0 and XSS, as EAX, EBX, ECX, EDX at {@code out[4 * i]}; in batches
     * of {@link #CPUID_BATCH} repetitions.
     */
    public void getCpuidValues(int[] leaves, int[] subleaves, int[] out) {
        if (subleaves.length != leaves.length || out.length < 4 * leaves.length) {
            throw new IllegalArgumentException(leaves.length + " CPUID queries need as many subleaves and 4 outputs each");
        }
        long info = HV_CPUID_LEAF_INFO.byteSize();
        long answer = HV_OUTPUT_GET_VP_CPUID_VALUES.byteSize();
        for (int from = 0; from < leaves.length; from += CPUID_BATCH) {
            int n = Math.min(CPUID_BATCH, leaves.length - from);
            long inSize = GET_CPUID_VALUES_LEAVES + info * n;
            MemorySegment s = hvcallScratch(inSize);
            s.set(JAVA_INT_UNALIGNED, HVCALL_IN + GET_CPUID_VALUES_VP_INDEX, index);
            s.set(JAVA_INT_UNALIGNED, HVCALL_IN + GET_CPUID_VALUES_FLAGS, 1 << GET_CPUID_VALUES_USE_VP_XFEM_XSS_BIT
                    | 1 << GET_CPUID_VALUES_APPLY_REGISTERED_VALUES_BIT);
            for (int i = 0; i < n; i++) {
                long e = HVCALL_IN + GET_CPUID_VALUES_LEAVES + info * i;
                s.set(JAVA_INT_UNALIGNED, e + CPUID_LEAF_INFO_EAX, leaves[from + i]);
                s.set(JAVA_INT_UNALIGNED, e + CPUID_LEAF_INFO_ECX, subleaves[from + i]);
            }
            int done = rootHvcall(s, HvConstants.HVCALL_GET_VP_CPUID_VALUES, n, inSize, n * answer,
                    String.format("HVCALL_GET_VP_CPUID_VALUES(0x%x.%d%s)", leaves[from], subleaves[from], n > 1 ? ".." : ""));
            if (done != n) {
                throw new HypervisorException("HVCALL_GET_VP_CPUID_VALUES: the hypervisor completed " + done + " of " + n + " queries");
            }
            for (int i = 0; i < 4 * n; i++) {
                out[4 * from + i] = s.get(JAVA_INT_UNALIGNED, HVCALL_OUT + 4L * i);
            }
        }
    }

    private static void checkValues(HvRegisterName[] names, MemorySegment values, long valueSize) {
        if (values.byteSize() < names.length * valueSize) {
            throw new IllegalArgumentException(names.length + " registers need " + names.length * valueSize
                    + " bytes of values, not " + values.byteSize());
        }
    }

    private static void checkReps(int done, int asked, String name) {
        if (done != asked) {
            throw new HypervisorException(name + ": the hypervisor completed " + done + " of " + asked + " registers");
        }
    }

    /**
     * {@code MSHV_GET_VP_STATE}: state {@code type} ({@code MSHV_VP_STATE_*}) into {@code buffer} (page-aligned, a
     * multiple of 4 KiB). Returns the size of the state.
     */
    public int getState(int type, MemorySegment buffer) {
        return vpState(MshvIoctls.MSHV_GET_VP_STATE, type, buffer, "MSHV_GET_VP_STATE");
    }

    /** {@code MSHV_SET_VP_STATE}: state {@code type} from {@code buffer} (page-aligned, a multiple of 4 KiB). */
    public void setState(int type, MemorySegment buffer) {
        vpState(MshvIoctls.MSHV_SET_VP_STATE, type, buffer, "MSHV_SET_VP_STATE");
    }

    private int vpState(long request, int type, MemorySegment buffer, String name) {
        if (buffer.address() % 4096 != 0 || buffer.byteSize() % 4096 != 0 || buffer.byteSize() == 0) {
            throw new IllegalArgumentException(name + " needs a page-aligned buffer of whole pages");
        }
        MemorySegment s = scratch(MSHV_GET_SET_VP_STATE.byteSize());
        s.set(JAVA_BYTE, VP_STATE_TYPE, (byte) type);
        s.set(JAVA_INT, VP_STATE_BUF_SZ, (int) buffer.byteSize());
        s.set(JAVA_LONG, VP_STATE_BUF_PTR, buffer.address());
        ioctl(request, s, name + "(type " + type + ")");
        return s.get(JAVA_INT, VP_STATE_BUF_SZ);
    }
}
