package dev.nimbus.mshv;

import dev.nimbus.hypervisor.x86.LapicState;

import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;

import static dev.nimbus.mshv.abi.HvStructs.HV_LOCAL_INTERRUPT_CONTROLLER_STATE;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;

/**
 * Between the hypervisor's local interrupt controller state ({@code hv_local_interrupt_controller_state}, the
 * registers by name) and the SPI's {@link LapicState} (KVM's 1 KiB page, each register at its xAPIC MMIO
 * offset). The page's TPR is the VP's CR8 (the hypervisor keeps it there, not in this state); PPR, APR and
 * the EOI register have no place in either direction (PPR is derived; the page reads 0 there). The
 * hypervisor's {@code apic_error_status} has no offset in the page: a set keeps the hypervisor's value.
 */
final class LapicFormat {
    /** xAPIC register offsets in the page. */
    static final int TPR = 0x80;
    private static final int ISR = 0x100;
    private static final int TMR = 0x180;
    private static final int IRR = 0x200;

    /** A 32-bit register of the hypervisor's state, at {@code hvOffset} there and {@code pageOffset} in the page. */
    private record Register(long hvOffset, int pageOffset) {
        Register(String field, int pageOffset) {
            this(offset(field), pageOffset);
        }
    }

    /** The registers but ISR, TMR and IRR, which are eight words each. */
    private static final Register[] REGISTERS = {
        new Register("apic_id", 0x20), new Register("apic_version", 0x30), new Register("apic_remote_read", 0xc0),
        new Register("apic_ldr", 0xd0), new Register("apic_dfr", 0xe0), new Register("apic_spurious", 0xf0),
        new Register("apic_esr", 0x280), new Register("apic_lvt_cmci", 0x2f0), new Register("apic_icr_low", 0x300),
        new Register("apic_icr_high", 0x310), new Register("apic_lvt_timer", 0x320), new Register("apic_lvt_thermal", 0x330),
        new Register("apic_lvt_perfmon", 0x340), new Register("apic_lvt_lint0", 0x350), new Register("apic_lvt_lint1", 0x360),
        new Register("apic_lvt_error", 0x370), new Register("apic_initial_count", 0x380),
        new Register("apic_counter_value", 0x390), new Register("apic_divide_configuration", 0x3e0),
    };
    private static final long HV_ISR = offset("apic_isr");
    private static final long HV_TMR = offset("apic_tmr");
    private static final long HV_IRR = offset("apic_irr");

    private LapicFormat() {}

    private static long offset(String field) {
        return HV_LOCAL_INTERRUPT_CONTROLLER_STATE.byteOffset(PathElement.groupElement(field));
    }

    /** The SPI's page from the hypervisor's {@code state} and the VP's {@code cr8}. */
    static LapicState toPage(MemorySegment state, long cr8) {
        MemorySegment page = MemorySegment.ofArray(new byte[LapicState.SIZE]);
        for (Register r : REGISTERS) {
            page.set(JAVA_INT_UNALIGNED, r.pageOffset(), state.get(JAVA_INT_UNALIGNED, r.hvOffset()));
        }
        for (int i = 0; i < 8; i++) {
            page.set(JAVA_INT_UNALIGNED, ISR + 16L * i, state.get(JAVA_INT_UNALIGNED, HV_ISR + 4L * i));
            page.set(JAVA_INT_UNALIGNED, TMR + 16L * i, state.get(JAVA_INT_UNALIGNED, HV_TMR + 4L * i));
            page.set(JAVA_INT_UNALIGNED, IRR + 16L * i, state.get(JAVA_INT_UNALIGNED, HV_IRR + 4L * i));
        }
        page.set(JAVA_INT_UNALIGNED, TPR, (int) (cr8 & 0xf) << 4);
        return new LapicState(page.toArray(JAVA_BYTE));
    }

    /** Writes {@code lapic}'s registers into the hypervisor's {@code state} (what the page lacks is left as it is). */
    static void fromPage(LapicState lapic, MemorySegment state) {
        for (Register r : REGISTERS) {
            state.set(JAVA_INT_UNALIGNED, r.hvOffset(), lapic.register(r.pageOffset()));
        }
        for (int i = 0; i < 8; i++) {
            state.set(JAVA_INT_UNALIGNED, HV_ISR + 4L * i, lapic.register(ISR + 16 * i));
            state.set(JAVA_INT_UNALIGNED, HV_TMR + 4L * i, lapic.register(TMR + 16 * i));
            state.set(JAVA_INT_UNALIGNED, HV_IRR + 4L * i, lapic.register(IRR + 16 * i));
        }
    }

    /** The CR8 the page's TPR means (its priority class; the sub-class bits have no place in CR8). */
    static long cr8(LapicState lapic) {
        return (lapic.register(TPR) >>> 4) & 0xf;
    }
}
