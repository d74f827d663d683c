package dev.nimbus.conformance.backend;

import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.VcpuExit;
import dev.nimbus.hypervisor.x86.X86Regs;
import dev.nimbus.hypervisor.x86.X86Segment;
import dev.nimbus.hypervisor.x86.X86Sregs;
import dev.nimbus.hypervisor.x86.X86Vcpu;

/**
 * x86-64 guest programs. They run in 16-bit real mode from reset (no tables to build): CS is moved to
 * segment base 0 and IP to the entry; addresses above 64 KiB are reached through DS/ES (base = selector
 * * 16), so MMIO (0x20000) is segment 0x2000, ROM (0x30000) 0x3000, LOGGED (0x40000) 0x4000.
 */
final class X86GuestCode implements GuestCode {
    private static byte[] b(int... bytes) {
        byte[] out = new byte[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            out[i] = (byte) bytes[i];
        }
        return out;
    }

    @Override
    public void start(Vcpu vcpu, long entry, boolean primary) {
        X86Vcpu x = vcpu.as(X86Vcpu.class);
        X86Sregs s = x.getSregs();
        X86Segment c = s.cs();
        X86Segment cs = new X86Segment(0, c.limit(), 0, c.type(), c.present(), c.dpl(), c.db(), c.s(), c.l(),
                c.g(), c.avl(), c.unusable());
        x.setSregs(new X86Sregs(cs, s.ds(), s.es(), s.fs(), s.gs(), s.ss(), s.tr(), s.ldt(), s.gdt(), s.idt(),
                s.cr0(), s.cr2(), s.cr3(), s.cr4(), s.cr8(), s.efer(), s.apicBase(), s.interruptBitmap()));
        x.setRegs(X86Regs.reset().withRip(entry).withRsp(0x8000));
    }

    @Override
    public boolean isStop(VcpuExit exit) {
        return exit instanceof VcpuExit.Halt;
    }

    @Override
    public byte[] stop() {
        return b(0xf4);                                  // hlt
    }

    /** out/in at port 0x3f8 in three sizes, then echo the byte read to port 0x80, hlt. */
    byte[] pioRoundTrip() {
        return b(
                0xba, 0xf8, 0x03,                        // mov dx, 0x3f8
                0xb0, 0x41,                              // mov al, 0x41
                0xee,                                    // out dx, al          -> port 0x3f8, 1 byte, 0x41
                0x66, 0xb8, 0x78, 0x56, 0x34, 0x12,      // mov eax, 0x12345678
                0x66, 0xef,                              // out dx, eax         -> port 0x3f8, 4 bytes
                0xec,                                    // in al, dx           <- port 0x3f8, 1 byte
                0xe6, 0x80,                              // out 0x80, al        -> echo what was read
                0xf4);                                   // hlt
    }

    /** Writes 1 to port 0x500, then hlt (with an ioeventfd on 0x500 the write never exits). */
    byte[] pioDoorbell() {
        return b(
                0xba, 0x00, 0x05,                        // mov dx, 0x500
                0xb0, 0x01,                              // mov al, 1
                0xee,                                    // out dx, al
                0xf4);                                   // hlt
    }

    /**
     * Enables interrupts and halts; the handler for vector 0x40 (IVT entry 0x40 at 0x100 -> 0000:0200, see
     * {@link #interruptHandler()}) reports through port 0x80.
     */
    byte[] waitForInterrupt() {
        return b(
                0xfb,                                    // sti
                0xf4,                                    // hlt
                0xeb, 0xfd);                             // jmp -3 (back to hlt)
    }

    /** The vector 0x40 handler at 0x200: {@code mov al, 0x99; out 0x80, al; hlt}. */
    byte[] interruptHandler() {
        return b(0xb0, 0x99, 0xe6, 0x80, 0xf4);
    }

    /** The real-mode IVT entry for the handler at 0000:0200 (offset, then segment). */
    byte[] ivtEntry() {
        return b(0x00, 0x02, 0x00, 0x00);
    }

    @Override
    public byte[] mmioRoundTrip() {
        return b(
                0xb8, 0x00, 0x20,                        // mov ax, 0x2000
                0x8e, 0xd8,                              // mov ds, ax          (MMIO)
                0xc7, 0x06, 0x10, 0x00, 0xcd, 0xab,      // mov word [0x10], 0xabcd
                0x66, 0xa1, 0x20, 0x00,                  // mov eax, [0x20]
                0x66, 0xa3, 0x30, 0x00,                  // mov [0x30], eax
                0xf4);                                   // hlt
    }

    @Override
    public byte[] readOnlyWrite() {
        return b(
                0xb8, 0x00, 0x30,                        // mov ax, 0x3000
                0x8e, 0xc0,                              // mov es, ax          (ROM)
                0xb8, 0x00, 0x20,                        // mov ax, 0x2000
                0x8e, 0xd8,                              // mov ds, ax          (MMIO)
                0x26, 0xa0, 0x00, 0x00,                  // mov al, es:[0]
                0xa2, 0x40, 0x00,                        // mov [0x40], al
                0x26, 0xc6, 0x06, 0x04, 0x00, 0x77,      // mov byte es:[4], 0x77
                0xf4);                                   // hlt
    }

    @Override
    public byte[] dirtyTwoPages() {
        return b(
                0xb8, 0x00, 0x40,                        // mov ax, 0x4000
                0x8e, 0xc0,                              // mov es, ax          (LOGGED)
                0x26, 0xc6, 0x06, 0x00, 0x20, 0x01,      // mov byte es:[0x2000], 1   page 2
                0x26, 0xc6, 0x06, 0x00, 0x50, 0x01,      // mov byte es:[0x5000], 1   page 5
                0xf4);                                   // hlt
    }

    @Override
    public byte[] twoWrites() {
        return b(
                0xb8, 0x00, 0x20,                        // mov ax, 0x2000
                0x8e, 0xd8,                              // mov ds, ax          (MMIO)
                0x66, 0xc7, 0x06, 0x50, 0x00, 0x07, 0x00, 0x00, 0x00,   // mov dword [0x50], 7
                0x66, 0xc7, 0x06, 0x50, 0x00, 0x08, 0x00, 0x00, 0x00,   // mov dword [0x50], 8
                0xf4);                                   // hlt
    }

    @Override
    public byte[] waitForFlag() {
        return b(
                0x80, 0x3e, 0x00, 0x30, 0x01,            // 0: cmp byte [0x3000], 1
                0x75, 0xf9,                              // 5: jne 0
                0xb8, 0x00, 0x20,                        //    mov ax, 0x2000
                0x8e, 0xd8,                              //    mov ds, ax
                0xc6, 0x06, 0x60, 0x00, 0xa0,            //    mov byte [0x60], 0xa0
                0xf4);                                   //    hlt
    }

    @Override
    public byte[] setFlag() {
        return b(
                0xc6, 0x06, 0x00, 0x30, 0x01,            // mov byte [0x3000], 1
                0xb8, 0x00, 0x20,                        // mov ax, 0x2000
                0x8e, 0xd8,                              // mov ds, ax
                0xc6, 0x06, 0x68, 0x00, 0xa1,            // mov byte [0x68], 0xa1
                0xf4);                                   // hlt
    }

    @Override
    public byte[] spin() {
        return b(0xeb, 0xfe);                            // jmp $
    }
}
