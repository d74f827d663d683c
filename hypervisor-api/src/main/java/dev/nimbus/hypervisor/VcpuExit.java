package dev.nimbus.hypervisor;

/**
 * Why {@link Vcpu#run()} returned. Sealed, so the VMM's exit loop is an exhaustive {@code switch}: a new
 * kind of exit is a compile error wherever it is not handled.
 *
 * <p>The four I/O exits are interfaces that a backend implements as views over its own exit data (the
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
