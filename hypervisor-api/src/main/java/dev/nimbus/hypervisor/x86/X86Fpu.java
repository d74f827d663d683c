package dev.nimbus.hypervisor.x86;

/**
 * The x87/SSE state of a vCPU in FXSAVE terms: eight 16-byte x87 registers ({@code fpr}), the x87 control,
 * status and abridged tag words, the last opcode and pointers, sixteen 16-byte XMM registers and MXCSR.
 */
public record X86Fpu(byte[] fpr, int fcw, int fsw, int ftwx, int lastOpcode, long lastIp, long lastDp,
                     byte[] xmm, int mxcsr) {
    public X86Fpu {
        if (fpr.length != 128 || xmm.length != 256) {
            throw new IllegalArgumentException("fpr is 8x16 bytes and xmm 16x16 bytes");
        }
        fpr = fpr.clone();
        xmm = xmm.clone();
    }

    /** The state after FNINIT with MXCSR at its reset value (0x1f80, all exceptions masked). */
    public static X86Fpu reset() {
        return new X86Fpu(new byte[128], 0x37f, 0, 0, 0, 0, 0, new byte[256], 0x1f80);
    }

    @Override
    public byte[] fpr() {
        return fpr.clone();
    }

    @Override
    public byte[] xmm() {
        return xmm.clone();
    }
}
