package dev.nimbus.conformance.backend;

import dev.nimbus.hypervisor.Arch;
import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.VcpuExit;

/**
 * The guest programs of the conformance kit for one architecture: hand-assembled machine code with its
 * assembly beside it, and how to point a fresh vCPU at it. Every program uses the same guest physical
 * layout ({@link Layout}), so the tests themselves are architecture-neutral.
 */
interface GuestCode {
    /** The guest physical layout every test uses. */
    final class Layout {
        /** RAM slot 0: code at {@link #CODE}, data at {@link #DATA}. */
        static final long RAM = 0x0;
        static final long RAM_SIZE = 0x10000;
        static final long CODE = 0x1000;
        static final long CODE2 = 0x1800;
        static final long DATA = 0x3000;
        /** Nothing is mapped here: accesses exit as MMIO. */
        static final long MMIO = 0x20000;
        /** Slot 1, read-only. */
        static final long ROM = 0x30000;
        static final long ROM_SIZE = 0x1000;
        /** Slot 2, dirty-logged, 16 pages of 4 KiB. */
        static final long LOGGED = 0x40000;
        static final long LOGGED_SIZE = 0x10000;

        private Layout() {}
    }

    static GuestCode forHost() {
        return switch (Arch.host()) {
            case X86_64 -> new X86GuestCode();
            case AARCH64 -> new Aarch64GuestCode();
            case RISCV64 -> new Riscv64GuestCode();
        };
    }

    /** Puts a new vCPU into a state where it executes the code at {@code entry} (and may be started later). */
    void start(Vcpu vcpu, long entry, boolean primary);

    /** Whether {@code exit} is how {@link #stop()} ends: HLT on x86-64, a power-off system event elsewhere. */
    boolean isStop(VcpuExit exit);

    /** The instructions that end a program. */
    byte[] stop();

    /** Writes 0xabcd (16 bits) to MMIO+0x10, reads 32 bits from MMIO+0x20, writes that to MMIO+0x30, stops. */
    byte[] mmioRoundTrip();

    /** Reads a byte of ROM+0 and writes it to MMIO+0x40, writes 0x77 to ROM+4 (an MMIO exit), stops. */
    byte[] readOnlyWrite();

    /** Writes one byte to LOGGED pages 2 and 5, stops. */
    byte[] dirtyTwoPages();

    /** Writes 32-bit 7 then 32-bit 8 to MMIO+0x50, stops. */
    byte[] twoWrites();

    /**
     * Spins until the byte at DATA is 1, then writes 0xa0 to MMIO+0x60, stops. Where the hypervisor keeps
     * secondary vCPUs stopped until the guest starts them (riscv64), it first starts vCPU 1 at CODE2.
     */
    byte[] waitForFlag();

    /** Sets the byte at DATA to 1, writes 0xa1 to MMIO+0x68, stops. */
    byte[] setFlag();

    /** Loops forever without leaving the guest. */
    byte[] spin();
}
