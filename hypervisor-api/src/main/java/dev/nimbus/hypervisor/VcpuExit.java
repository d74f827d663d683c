package dev.nimbus.hypervisor;

/**
 * Why {@link Vcpu#run()} returned. Sealed, so the VMM's exit loop is an exhaustive {@code switch}: a new
 * kind of exit is a compile error wherever it is not handled.
 *
 * <p>The four I/O exits and the SBI call are interfaces that a backend implements as views over its own exit data (the
 * {@code kvm_run} page for KVM), so the common exits allocate nothing. Such a view is valid until the next
 * {@link Vcpu#run()} on the same vCPU; a response written with {@code respond} is delivered to the guest by
 * that next {@code run()}. The other exits are plain values.
 */
public sealed interface VcpuExit {
    /** The guest wrote to an x86 I/O port ({@code out}, or {@code outs} with a repeat count). */
    non-sealed interface IoOut extends VcpuExit {
        int port();

        /** Bytes per access: 1, 2 or 4. */
        int size();

        /** Number of accesses ({@code rep outs}); usually 1. */
        int count();

        /** The value of access {@code index} (0 &lt;= index &lt; count), zero-extended. */
        long value(int index);

        /** The value of the first (usually only) access. */
        default long value() {
            return value(0);
        }
    }

    /** The guest read from an x86 I/O port; the device's answer goes back through {@link #respond}. */
    non-sealed interface IoIn extends VcpuExit {
        int port();

        int size();

        int count();

        /** Sets the value that access {@code index} reads; the low {@link #size()} bytes are used. */
        void respond(int index, long value);

        default void respond(long value) {
            respond(0, value);
        }
    }

    /** The guest wrote to an address that is not RAM (or is read-only RAM). */
    non-sealed interface MmioWrite extends VcpuExit {
        long address();

        /** Bytes written: 1, 2, 4 or 8. */
        int size();

        /** The bytes written, little-endian, zero-extended. */
        long value();
    }

    /** The guest read from an address that is not RAM; the device's answer goes back through {@link #respond}. */
    non-sealed interface MmioRead extends VcpuExit {
        long address();

        int size();

        /** Sets the value the guest reads; the low {@link #size()} bytes are used. */
        void respond(long value);
    }

    /**
     * riscv64: the guest made an SBI call ({@code ecall} from S-mode, extension id in a7, function id in a6,
     * arguments in a0-a5) that the hypervisor hands to the VMM rather than answering itself. KVM answers most
     * extensions in the kernel (timer, IPI, remote fences, HSM, PMU, and system reset, which arrives as a
     * {@link SystemEvent}) and forwards only a few (the legacy console calls, the debug console when user space
     * enabled it, the experimental and vendor ranges). The answer goes back to the guest in a0 (an SBI error
     * code) and a1 (a value) through {@link #respond}, delivered by the next {@link Vcpu#run()}.
     */
    non-sealed interface SbiCall extends VcpuExit {
        /** SBI's {@code SBI_SUCCESS}. */
        long SUCCESS = 0;
        /** SBI's {@code SBI_ERR_NOT_SUPPORTED}: the answer to a call the VMM does not implement. */
        long ERR_NOT_SUPPORTED = -2;

        /** The extension id (a7). */
        long extension();

        /** The function id (a6). */
        long function();

        /** Argument {@code index} (a0-a5), 0 &lt;= index &lt; 6. */
        long arg(int index);

        /** Sets what the call returns: {@code error} in a0, {@code value} in a1. */
        void respond(long error, long value);
    }

    /**
     * x86-64 with the IOAPIC in the VMM ({@link IrqChipConfig.X86Split}): the guest's local APIC ended
     * level-triggered interrupt {@code vector}, which an IOAPIC pin routed there. The VMM's IOAPIC clears the
     * pin's remote IRR and sends the interrupt again if the line is still asserted. The vCPU goes on with the
     * next {@link Vcpu#run()}.
     */
    record IoapicEoi(int vector) implements VcpuExit {}

    /** The vCPU executed HLT (or WFI) and the hypervisor hands the wait to user space. */
    record Halt() implements VcpuExit {}

    /** The guest can no longer run (an x86 triple fault). {@code detail} says what the hypervisor reported. */
    record Shutdown(String detail) implements VcpuExit {}

    /** The guest asked for a power transition (ACPI, PSCI or SBI system reset), or reported a crash. */
    record SystemEvent(Kind kind, int rawType) implements VcpuExit {
        /** The kinds of system event. */
        public enum Kind { POWER_OFF, RESET, CRASH, OTHER }
    }

    /** The hypervisor failed to run the vCPU; the VM cannot continue. */
    record InternalError(String detail) implements VcpuExit {}

    /** The hypervisor returned an exit this VMM does not know; {@code reason} is the raw code. */
    record Unknown(int reason, String detail) implements VcpuExit {}

    /** {@link Vcpu#run()} returned because {@link Vcpu#kick()} asked it to, or a signal arrived. */
    record Interrupted() implements VcpuExit {}

    /** Shared instances of the exits that carry no data. */
    Halt HALT = new Halt();
    Interrupted INTERRUPTED = new Interrupted();
}
