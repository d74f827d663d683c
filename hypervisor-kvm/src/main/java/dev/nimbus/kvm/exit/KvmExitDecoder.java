package dev.nimbus.kvm.exit;

import dev.nimbus.hypervisor.VcpuExit;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static dev.nimbus.kvm.abi.KvmConstants.*;
import static dev.nimbus.kvm.abi.KvmStructs.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * Turns the exit a vCPU reported in its {@code kvm_run} page into a {@link VcpuExit}. The four I/O exits and
 * the riscv64 SBI call are views over the page, one instance of each per vCPU, reused for every exit: decoding
 * a PIO, MMIO or SBI exit allocates nothing. The rarer exits are small values built when they happen.
 *
 * <p>Works on any segment laid out as {@code struct kvm_run}, so tests and benchmarks replay exits from a
 * page filled in memory without KVM.
 */
public final class KvmExitDecoder {
    private static final ValueLayout.OfShort U16 = JAVA_SHORT.withByteAlignment(1);
    private static final ValueLayout.OfInt U32 = JAVA_INT.withByteAlignment(1);
    private static final ValueLayout.OfLong U64 = JAVA_LONG.withByteAlignment(1);

    private final MemorySegment run;
    private final IoOut ioOut = new IoOut();
    private final IoIn ioIn = new IoIn();
    private final MmioWrite mmioWrite = new MmioWrite();
    private final MmioRead mmioRead = new MmioRead();
    private final SbiCall sbiCall = new SbiCall();

    /** A decoder over {@code run}, which must be at least {@code sizeof(struct kvm_run)} bytes. */
    public KvmExitDecoder(MemorySegment run) {
        if (run.byteSize() < KVM_RUN.byteSize()) {
            throw new IllegalArgumentException("kvm_run mapping of " + run.byteSize() + " bytes is smaller than "
                    + KVM_RUN.byteSize());
        }
        this.run = run;
    }

    /** One EOI exit per vector, made once: a level-triggered interrupt's EOI allocates nothing. */
    private static final VcpuExit.IoapicEoi[] EOIS = new VcpuExit.IoapicEoi[256];

    static {
        for (int v = 0; v < EOIS.length; v++) {
            EOIS[v] = new VcpuExit.IoapicEoi(v);
        }
    }

    /** The exit the page describes now. */
    public VcpuExit decode() {
        int reason = run.get(JAVA_INT, RUN_EXIT_REASON);
        return switch (reason) {
            case KVM_EXIT_IO -> decodeIo();
            case KVM_EXIT_MMIO -> decodeMmio();
            case KVM_EXIT_HLT -> VcpuExit.HALT;
            case KVM_EXIT_INTR -> VcpuExit.INTERRUPTED;
            case KVM_EXIT_SHUTDOWN -> new VcpuExit.Shutdown("KVM_EXIT_SHUTDOWN (triple fault)");
            case KVM_EXIT_SYSTEM_EVENT -> systemEvent();
            case KVM_EXIT_IOAPIC_EOI -> EOIS[Byte.toUnsignedInt(run.get(JAVA_BYTE, RUN_EOI_VECTOR))];
            case KVM_EXIT_INTERNAL_ERROR -> internalError();
            case KVM_EXIT_FAIL_ENTRY -> new VcpuExit.InternalError(String.format(
                    "KVM_EXIT_FAIL_ENTRY: VM entry failed, hardware reason 0x%x on host CPU %d",
                    run.get(JAVA_LONG, RUN_FAIL_ENTRY_REASON), run.get(JAVA_INT, RUN_FAIL_ENTRY_CPU)));
            case KVM_EXIT_UNKNOWN -> new VcpuExit.Unknown(reason, String.format(
                    "KVM_EXIT_UNKNOWN, hardware exit reason 0x%x", run.get(JAVA_LONG, RUN_HW_REASON)));
            case KVM_EXIT_EXCEPTION -> new VcpuExit.Unknown(reason, String.format(
                    "KVM_EXIT_EXCEPTION: exception %d, error code 0x%x", run.get(JAVA_INT, RUN_EX_EXCEPTION),
                    run.get(JAVA_INT, RUN_EX_ERROR_CODE)));
            case KVM_EXIT_RISCV_SBI -> sbiCall;
            case KVM_EXIT_RISCV_CSR -> new VcpuExit.Unknown(reason, String.format(
                    "KVM_EXIT_RISCV_CSR: CSR 0x%x", run.get(JAVA_LONG, RUN_CSR_NUM)));
            default -> new VcpuExit.Unknown(reason, "KVM exit reason " + reason);
        };
    }

    private VcpuExit decodeIo() {
        int size = Byte.toUnsignedInt(run.get(JAVA_BYTE, RUN_IO_SIZE));
        int count = run.get(JAVA_INT, RUN_IO_COUNT);
        long offset = run.get(JAVA_LONG, RUN_IO_DATA_OFFSET);
        if ((size != 1 && size != 2 && size != 4) || count < 1 || offset < 0
                || offset + (long) size * count > run.byteSize()) {
            return new VcpuExit.InternalError(String.format(
                    "KVM_EXIT_IO with impossible data: size %d, count %d, offset 0x%x in a 0x%x-byte kvm_run",
                    size, count, offset, run.byteSize()));
        }
        return run.get(JAVA_BYTE, RUN_IO_DIRECTION) == KVM_EXIT_IO_OUT ? ioOut : ioIn;
    }

    private VcpuExit decodeMmio() {
        int len = run.get(JAVA_INT, RUN_MMIO_LEN);
        if (len != 1 && len != 2 && len != 4 && len != 8) {
            return new VcpuExit.InternalError("KVM_EXIT_MMIO with impossible length " + len);
        }
        return run.get(JAVA_BYTE, RUN_MMIO_IS_WRITE) != 0 ? mmioWrite : mmioRead;
    }

    private VcpuExit systemEvent() {
        int type = run.get(JAVA_INT, RUN_SYSTEM_EVENT_TYPE);
        VcpuExit.SystemEvent.Kind kind = switch (type) {
            case KVM_SYSTEM_EVENT_SHUTDOWN -> VcpuExit.SystemEvent.Kind.POWER_OFF;
            case KVM_SYSTEM_EVENT_RESET -> VcpuExit.SystemEvent.Kind.RESET;
            case KVM_SYSTEM_EVENT_CRASH -> VcpuExit.SystemEvent.Kind.CRASH;
            default -> VcpuExit.SystemEvent.Kind.OTHER;
        };
        return new VcpuExit.SystemEvent(kind, type);
    }

    private VcpuExit internalError() {
        int suberror = run.get(JAVA_INT, RUN_INTERNAL_SUBERROR);
        int ndata = Math.min(16, Math.max(0, run.get(JAVA_INT, RUN_INTERNAL_NDATA)));
        StringBuilder sb = new StringBuilder("KVM_EXIT_INTERNAL_ERROR: suberror ").append(suberror)
                .append(switch (suberror) {
                    case 1 -> " (emulation failure)";
                    case 2 -> " (simultaneous exceptions)";
                    case 3 -> " (delivery event)";
                    case 4 -> " (unexpected exit reason)";
                    default -> "";
                });
        for (int i = 0; i < ndata; i++) {
            sb.append(i == 0 ? ", data " : " ").append(String.format("0x%x", run.get(JAVA_LONG, RUN_INTERNAL_DATA + 8L * i)));
        }
        return new VcpuExit.InternalError(sb.toString());
    }

    private long ioData() {
        return run.get(JAVA_LONG, RUN_IO_DATA_OFFSET);
    }

    private int ioSize() {
        return Byte.toUnsignedInt(run.get(JAVA_BYTE, RUN_IO_SIZE));
    }

    private int ioCount() {
        return run.get(JAVA_INT, RUN_IO_COUNT);
    }

    private int ioPort() {
        return Short.toUnsignedInt(run.get(JAVA_SHORT, RUN_IO_PORT));
    }

    private long checkedIoSlot(int index) {
        int count = ioCount();
        if (index < 0 || index >= count) {
            throw new IndexOutOfBoundsException("I/O access " + index + " of " + count);
        }
        return ioData() + (long) index * ioSize();
    }

    private long read(long offset, int size) {
        return switch (size) {
            case 1 -> Byte.toUnsignedLong(run.get(JAVA_BYTE, offset));
            case 2 -> Short.toUnsignedLong(run.get(U16, offset));
            case 4 -> Integer.toUnsignedLong(run.get(U32, offset));
            default -> run.get(U64, offset);
        };
    }

    private void write(long offset, int size, long value) {
        switch (size) {
            case 1 -> run.set(JAVA_BYTE, offset, (byte) value);
            case 2 -> run.set(U16, offset, (short) value);
            case 4 -> run.set(U32, offset, (int) value);
            default -> run.set(U64, offset, value);
        }
    }

    private final class IoOut implements VcpuExit.IoOut {
        @Override
        public int port() {
            return ioPort();
        }

        @Override
        public int size() {
            return ioSize();
        }

        @Override
        public int count() {
            return ioCount();
        }

        @Override
        public long value(int index) {
            return read(checkedIoSlot(index), ioSize());
        }

        @Override
        public String toString() {
            return String.format("IoOut[port=0x%x, size=%d, count=%d, value=0x%x]", port(), size(), count(), value());
        }
    }

    private final class IoIn implements VcpuExit.IoIn {
        @Override
        public int port() {
            return ioPort();
        }

        @Override
        public int size() {
            return ioSize();
        }

        @Override
        public int count() {
            return ioCount();
        }

        @Override
        public void respond(int index, long value) {
            write(checkedIoSlot(index), ioSize(), value);
        }

        @Override
        public String toString() {
            return String.format("IoIn[port=0x%x, size=%d, count=%d]", port(), size(), count());
        }
    }

    private final class MmioWrite implements VcpuExit.MmioWrite {
        @Override
        public long address() {
            return run.get(JAVA_LONG, RUN_MMIO_PHYS_ADDR);
        }

        @Override
        public int size() {
            return run.get(JAVA_INT, RUN_MMIO_LEN);
        }

        @Override
        public long value() {
            return read(RUN_MMIO_DATA, size());
        }

        @Override
        public String toString() {
            return String.format("MmioWrite[address=0x%x, size=%d, value=0x%x]", address(), size(), value());
        }
    }

    private final class MmioRead implements VcpuExit.MmioRead {
        @Override
        public long address() {
            return run.get(JAVA_LONG, RUN_MMIO_PHYS_ADDR);
        }

        @Override
        public int size() {
            return run.get(JAVA_INT, RUN_MMIO_LEN);
        }

        @Override
        public void respond(long value) {
            int size = size();
            // the kernel copies `len` bytes; clear the rest so a stale value never leaks into a shorter read
            run.set(U64, RUN_MMIO_DATA, 0L);
            write(RUN_MMIO_DATA, size, value);
        }

        @Override
        public String toString() {
            return String.format("MmioRead[address=0x%x, size=%d]", address(), size());
        }
    }

    /**
     * {@code riscv_sbi}: KVM has already put {@code SBI_ERR_NOT_SUPPORTED} and 0 in {@code ret} before it
     * exits, and on the next {@code KVM_RUN} copies {@code ret[0]} and {@code ret[1]} to a0 and a1 and steps
     * the guest past its {@code ecall}; {@link #respond} overwrites them.
     */
    private final class SbiCall implements VcpuExit.SbiCall {
        @Override
        public long extension() {
            return run.get(JAVA_LONG, RUN_SBI_EXTENSION);
        }

        @Override
        public long function() {
            return run.get(JAVA_LONG, RUN_SBI_FUNCTION);
        }

        @Override
        public long arg(int index) {
            if (index < 0 || index >= 6) {
                throw new IndexOutOfBoundsException("SBI argument " + index + " of 6");
            }
            return run.get(JAVA_LONG, RUN_SBI_ARGS + 8L * index);
        }

        @Override
        public void respond(long error, long value) {
            run.set(JAVA_LONG, RUN_SBI_RET, error);
            run.set(JAVA_LONG, RUN_SBI_RET + 8, value);
        }

        @Override
        public String toString() {
            return String.format("SbiCall[extension=0x%x, function=%d]", extension(), function());
        }
    }
}
