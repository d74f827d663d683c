package dev.nimbus.mshv;

import dev.nimbus.hypervisor.x86.LapicState;

import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;

import static dev.nimbus.mshv.abi.HvStructs.HV_LOCAL_INTERRUPT_CONTROLLER_STATE;
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

    /** The 32-bit fields of the hypervisor's state and their offsets in the page (ISR, TMR, IRR apart). */
    private static final Object[][] FIELDS = {
        {"apic_id", 0x20}, {"apic_version", 0x30}, {"apic_remote_read", 0xc0}, {"apic_ldr", 0xd0}, {"apic_dfr", 0xe0},
        {"apic_spurious", 0xf0}, {"apic_esr", 0x280}, {"apic_lvt_cmci", 0x2f0}, {"apic_icr_low", 0x300},
        {"apic_icr_high", 0x310}, {"apic_lvt_timer", 0x320}, {"apic_lvt_thermal", 0x330}, {"apic_lvt_perfmon", 0x340},
        {"apic_lvt_lint0", 0x350}, {"apic_lvt_lint1", 0x360}, {"apic_lvt_error", 0x370}, {"apic_initial_count", 0x380},
        {"apic_counter_value", 0x390}, {"apic_divide_configuration", 0x3e0},
    };
    private static final long[] HV_OFFSETS = new long[FIELDS.length];
    private static final long HV_ISR = offset("apic_isr");
    private static final long HV_TMR = offset("apic_tmr");
    private static final long HV_IRR = offset("apic_irr");

    static {
        for (int i = 0; i < FIELDS.length; i++) {
            HV_OFFSETS[i] = offset((String) FIELDS[i][0]);
        }
    }

    private LapicFormat() {}

    private static long offset(String field) {
        return HV_LOCAL_INTERRUPT_CONTROLLER_STATE.byteOffset(PathElement.groupElement(field));
    }

    /** The SPI's page from the hypervisor's {@code state} and the VP's {@code cr8}. */
    static LapicState toPage(MemorySegment state, long cr8) {
        MemorySegment page = MemorySegment.ofArray(new byte[LapicState.SIZE]);
        for (int i = 0; i < FIELDS.length; i++) {
            page.set(JAVA_INT_UNALIGNED, (int) FIELDS[i][1], state.get(JAVA_INT_UNALIGNED, HV_OFFSETS[i]));
        }
        for (int i = 0; i < 8; i++) {
            page.set(JAVA_INT_UNALIGNED, ISR + 16L * i, state.get(JAVA_INT_UNALIGNED, HV_ISR + 4L * i));
            page.set(JAVA_INT_UNALIGNED, TMR + 16L * i, state.get(JAVA_INT_UNALIGNED, HV_TMR + 4L * i));
            page.set(JAVA_INT_UNALIGNED, IRR + 16L * i, state.get(JAVA_INT_UNALIGNED, HV_IRR + 4L * i));
        }
        page.set(JAVA_INT_UNALIGNED, TPR, (int) (cr8 & 0xf) << 4);
        return new LapicState(page.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
    }

    /** Writes {@code lapic}'s registers into the hypervisor's {@code state} (what the page lacks is left as it is). */
    static void fromPage(LapicState lapic, MemorySegment state) {
        for (int i = 0; i < FIELDS.length; i++) {
            state.set(JAVA_INT_UNALIGNED, HV_OFFSETS[i], lapic.register((int) FIELDS[i][1]));
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
