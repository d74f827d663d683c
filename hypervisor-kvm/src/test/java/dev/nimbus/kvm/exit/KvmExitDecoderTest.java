package dev.nimbus.kvm.exit;

import dev.nimbus.hypervisor.VcpuExit;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static dev.nimbus.kvm.abi.KvmConstants.*;
import static dev.nimbus.kvm.abi.KvmStructs.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.assertj.core.api.Assertions.assertThat;

/** Exit decoding from a kvm_run page filled in memory, as KVM would fill it. */
class KvmExitDecoderTest {
    private final Arena arena = Arena.ofAuto();
    // KVM maps the kvm_run page and, after it, the page PIO data is exchanged in (data_offset 0x1000)
    private final MemorySegment run = arena.allocate(3 * 4096, 4096);
    private final KvmExitDecoder decoder = new KvmExitDecoder(run);

    private void io(int direction, int port, int size, int count, long dataOffset) {
        run.set(JAVA_INT, RUN_EXIT_REASON, KVM_EXIT_IO);
        run.set(JAVA_BYTE, RUN_IO_DIRECTION, (byte) direction);
        run.set(JAVA_BYTE, RUN_IO_SIZE, (byte) size);
        run.set(JAVA_SHORT, RUN_IO_PORT, (short) port);
        run.set(JAVA_INT, RUN_IO_COUNT, count);
        run.set(JAVA_LONG, RUN_IO_DATA_OFFSET, dataOffset);
    }

    private void mmio(long address, int len, boolean write, long data) {
        run.set(JAVA_INT, RUN_EXIT_REASON, KVM_EXIT_MMIO);
        run.set(JAVA_LONG, RUN_MMIO_PHYS_ADDR, address);
        run.set(JAVA_INT, RUN_MMIO_LEN, len);
        run.set(JAVA_BYTE, RUN_MMIO_IS_WRITE, (byte) (write ? 1 : 0));
        run.set(JAVA_LONG, RUN_MMIO_DATA, data);
    }

    @Test
    void outToPortDecodesAsIoOutWithPortSizeAndValue() {
        io(KVM_EXIT_IO_OUT, 0x3f8, 1, 1, 0x1000);
        run.set(JAVA_BYTE, 0x1000, (byte) 'A');

        VcpuExit exit = decoder.decode();

        assertThat(exit).isInstanceOf(VcpuExit.IoOut.class);
        VcpuExit.IoOut out = (VcpuExit.IoOut) exit;
        assertThat(out.port()).isEqualTo(0x3f8);
        assertThat(out.size()).isEqualTo(1);
        assertThat(out.value()).isEqualTo('A');
    }

    @Test
    void repOutsExposesEveryAccess() {
        io(KVM_EXIT_IO_OUT, 0xcfc, 2, 3, 0x1000);
        run.set(JAVA_SHORT, 0x1000, (short) 0x1111);
        run.set(JAVA_SHORT, 0x1002, (short) 0xfffe);
        run.set(JAVA_SHORT, 0x1004, (short) 0x3333);

        VcpuExit.IoOut out = (VcpuExit.IoOut) decoder.decode();

        assertThat(out.count()).isEqualTo(3);
        assertThat(out.value(1)).isEqualTo(0xfffe);  // zero-extended
        assertThat(out.value(2)).isEqualTo(0x3333);
    }

    @Test
    void inFromPortWritesTheResponseWhereKvmReadsIt() {
        io(KVM_EXIT_IO_IN, 0x71, 4, 1, 0x1000);

        ((VcpuExit.IoIn) decoder.decode()).respond(0xdeadbeefL);

        assertThat(run.get(JAVA_INT, 0x1000)).isEqualTo(0xdeadbeef);
    }

    @Test
    void mmioWriteDecodesAddressSizeAndLittleEndianValue() {
        mmio(0xd000_0004L, 4, true, 0xffff_ffff_1234_5678L);

        VcpuExit.MmioWrite w = (VcpuExit.MmioWrite) decoder.decode();

        assertThat(w.address()).isEqualTo(0xd000_0004L);
        assertThat(w.size()).isEqualTo(4);
        assertThat(w.value()).isEqualTo(0x1234_5678L);  // only the low 4 bytes were written
    }

    @Test
    void mmioReadResponseFillsOnlyTheAccessedBytes() {
        mmio(0xd000_0000L, 2, false, -1L);

        ((VcpuExit.MmioRead) decoder.decode()).respond(0xabcdL);

        assertThat(run.get(JAVA_LONG, RUN_MMIO_DATA)).isEqualTo(0xabcdL);
    }

    @Test
    void ioExitsReuseOneObjectPerKind() {
        io(KVM_EXIT_IO_OUT, 0x80, 1, 1, 0x1000);
        VcpuExit first = decoder.decode();
        io(KVM_EXIT_IO_OUT, 0x81, 1, 1, 0x1000);
        VcpuExit second = decoder.decode();

        assertThat(second).isSameAs(first);
        assertThat(((VcpuExit.IoOut) second).port()).isEqualTo(0x81);
    }

    @Test
    void ioExitWithDataOutsideThePageIsAnInternalErrorNotACrash() {
        io(KVM_EXIT_IO_OUT, 0x80, 4, 2, 3 * 4096 - 4);

        assertThat(decoder.decode()).isInstanceOf(VcpuExit.InternalError.class);
    }

    @Test
    void hltIsHalt() {
        run.set(JAVA_INT, RUN_EXIT_REASON, KVM_EXIT_HLT);

        assertThat(decoder.decode()).isSameAs(VcpuExit.HALT);
    }

    @Test
    void psciSystemOffIsAPowerOffSystemEvent() {
        run.set(JAVA_INT, RUN_EXIT_REASON, KVM_EXIT_SYSTEM_EVENT);
        run.set(JAVA_INT, RUN_SYSTEM_EVENT_TYPE, KVM_SYSTEM_EVENT_SHUTDOWN);

        assertThat(decoder.decode()).isEqualTo(new VcpuExit.SystemEvent(VcpuExit.SystemEvent.Kind.POWER_OFF, 1));
    }

    @Test
    void resetSystemEventIsReset() {
        run.set(JAVA_INT, RUN_EXIT_REASON, KVM_EXIT_SYSTEM_EVENT);
        run.set(JAVA_INT, RUN_SYSTEM_EVENT_TYPE, KVM_SYSTEM_EVENT_RESET);

        assertThat(((VcpuExit.SystemEvent) decoder.decode()).kind()).isEqualTo(VcpuExit.SystemEvent.Kind.RESET);
    }

    @Test
    void internalErrorNamesTheSuberrorAndData() {
        run.set(JAVA_INT, RUN_EXIT_REASON, KVM_EXIT_INTERNAL_ERROR);
        run.set(JAVA_INT, RUN_INTERNAL_SUBERROR, 1);
        run.set(JAVA_INT, RUN_INTERNAL_NDATA, 2);
        run.set(JAVA_LONG, RUN_INTERNAL_DATA, 0x10);
        run.set(JAVA_LONG, RUN_INTERNAL_DATA + 8, 0x20);

        assertThat(decoder.decode()).isEqualTo(new VcpuExit.InternalError(
                "KVM_EXIT_INTERNAL_ERROR: suberror 1 (emulation failure), data 0x10 0x20"));
    }

    @Test
    void ioapicEoiCarriesTheUnsignedVectorAndAllocatesNothing() {
        run.set(JAVA_INT, RUN_EXIT_REASON, KVM_EXIT_IOAPIC_EOI);
        run.set(JAVA_BYTE, RUN_EOI_VECTOR, (byte) 0xec);

        VcpuExit first = decoder.decode();

        assertThat(first).isEqualTo(new VcpuExit.IoapicEoi(0xec));
        assertThat(decoder.decode()).isSameAs(first);
    }

    @Test
    void shutdownIsShutdown() {
        run.set(JAVA_INT, RUN_EXIT_REASON, KVM_EXIT_SHUTDOWN);

        assertThat(decoder.decode()).isInstanceOf(VcpuExit.Shutdown.class);
    }

    @Test
    void unknownReasonKeepsTheRawCode() {
        run.set(JAVA_INT, RUN_EXIT_REASON, 99);

        assertThat(decoder.decode()).isEqualTo(new VcpuExit.Unknown(99, "KVM exit reason 99"));
    }

    /** What KVM leaves in riscv_sbi when it forwards a call: ids, a0-a5, and ret already NOT_SUPPORTED, 0. */
    private void sbi(long extension, long function, long... args) {
        run.set(JAVA_INT, RUN_EXIT_REASON, KVM_EXIT_RISCV_SBI);
        run.set(JAVA_LONG, RUN_SBI_EXTENSION, extension);
        run.set(JAVA_LONG, RUN_SBI_FUNCTION, function);
        for (int i = 0; i < args.length; i++) {
            run.set(JAVA_LONG, RUN_SBI_ARGS + 8L * i, args[i]);
        }
        run.set(JAVA_LONG, RUN_SBI_RET, -2L);
        run.set(JAVA_LONG, RUN_SBI_RET + 8, 0L);
    }

    @Test
    void aForwardedSbiCallDecodesItsExtensionFunctionAndArguments() {
        // the SBI v0.1 console_putchar (extension 0x01) of 'x', which KVM forwards to user space
        sbi(0x01, 0, 'x', 0, 0, 0, 0, 0x5a5a);

        VcpuExit exit = decoder.decode();

        assertThat(exit).isInstanceOf(VcpuExit.SbiCall.class);
        VcpuExit.SbiCall call = (VcpuExit.SbiCall) exit;
        assertThat(call.extension()).isEqualTo(0x01);
        assertThat(call.function()).isZero();
        assertThat(call.arg(0)).isEqualTo('x');
        assertThat(call.arg(5)).isEqualTo(0x5a5a);
    }

    @Test
    void anSbiAnswerGoesWhereKvmCopiesItToA0AndA1() {
        sbi(0x4442_434eL, 2, 1); // the debug console's write_byte
        ((VcpuExit.SbiCall) decoder.decode()).respond(VcpuExit.SbiCall.SUCCESS, 0x1234);
        assertThat(run.get(JAVA_LONG, RUN_SBI_RET)).isZero();
        assertThat(run.get(JAVA_LONG, RUN_SBI_RET + 8)).isEqualTo(0x1234);

        sbi(0x0900_0000L, 7); // a vendor extension
        ((VcpuExit.SbiCall) decoder.decode()).respond(VcpuExit.SbiCall.ERR_NOT_SUPPORTED, 0);
        assertThat(run.get(JAVA_LONG, RUN_SBI_RET)).isEqualTo(-2);
    }

    @Test
    void theSbiArgumentsAreA0ToA5Only() {
        sbi(0x01, 0);
        VcpuExit.SbiCall call = (VcpuExit.SbiCall) decoder.decode();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> call.arg(6)).isInstanceOf(IndexOutOfBoundsException.class);
    }
}
