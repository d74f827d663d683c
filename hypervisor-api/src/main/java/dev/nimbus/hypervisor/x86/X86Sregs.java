package dev.nimbus.hypervisor.x86;

/**
 * The x86-64 system registers of a vCPU: segments, descriptor tables, control registers, EFER and the APIC
 * base. {@code interruptBitmap} (256 bits as 4 longs) holds a pending external interrupt, if any.
 */
public record X86Sregs(
        X86Segment cs, X86Segment ds, X86Segment es, X86Segment fs, X86Segment gs, X86Segment ss,
        X86Segment tr, X86Segment ldt, X86DescriptorTable gdt, X86DescriptorTable idt,
        long cr0, long cr2, long cr3, long cr4, long cr8, long efer, long apicBase, long[] interruptBitmap) {

    public X86Sregs {
        if (interruptBitmap.length != 4) {
            throw new IllegalArgumentException("interrupt bitmap has 4 longs, not " + interruptBitmap.length);
        }
        interruptBitmap = interruptBitmap.clone();
    }

    @Override
    public long[] interruptBitmap() {
        return interruptBitmap.clone();
    }
}
