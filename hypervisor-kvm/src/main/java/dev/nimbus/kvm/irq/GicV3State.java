package dev.nimbus.kvm.irq;

import dev.nimbus.host.Errno;
import dev.nimbus.host.SyscallException;
import dev.nimbus.hypervisor.state.StateException;
import dev.nimbus.hypervisor.state.StateRecord;
import dev.nimbus.kvm.fd.KvmDeviceFd;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

import static dev.nimbus.kvm.abi.KvmConstants.*;

/**
 * The vGICv3's and its ITS's state as snapshot records, through the device attributes of arm-vgic-v3.rst and
 * arm-vgic-its.rst. Which registers, from Cloud Hypervisor's and QEMU's lists: the distributor's GICD_CTLR and
 * GICD_STATUSR and its per-interrupt registers for the SPIs (the SGIs' and PPIs' are banked in each
 * redistributor), each redistributor's control registers and SGI frame, each CPU interface's ICC registers,
 * and the input line levels; the number of interrupts comes from GICD_TYPER.
 *
 * <p>{@value #GIC_RECORD} (version 1), little-endian: the interrupt count, the vCPUs' MPIDR attributes (count,
 * then each), then entries (count, then each: 32-bit group, 64-bit attr, 64-bit value). The entries are in the
 * order restore writes them, which is QEMU's: GICD_CTLR first (affinity routing and the group enables); each
 * redistributor's GICR_PROPBASER and GICR_PENDBASER before its GICR_CTLR (whose EnableLPIs freezes them),
 * then its SGI frame; the distributor's SPIs; the CPU interfaces. Within one interrupt set the configuration
 * (groups, priorities, routes, trigger) goes before the line levels, and those before the enable, pending and
 * active bits, so that a level-triggered interrupt's pending state is computed from its restored level. The
 * controller restored into is a fresh one (everything disabled, nothing pending or active), so writing the
 * saved set-register values (ISENABLER, ISPENDR, which user space writes as the raw latch, ISACTIVER)
 * reproduces the state without the clear-registers.
 *
 * <p>{@value #ITS_RECORD} (version 1): entries (count, then each: 64-bit register offset, 64-bit value),
 * GITS_CTLR last. Restore follows arm-vgic-its.rst's sequence: GITS_CBASER, then GITS_CREADR (a CBASER write
 * resets it), GITS_CWRITER, GITS_IIDR (the table ABI revision) and the GITS_BASERn, then
 * {@code KVM_DEV_ARM_ITS_RESTORE_TABLES}, then GITS_CTLR. A GITS_CBASER of 0 (the guest never set up a
 * command queue) is left as the fresh ITS has it: KVM would turn a written 0 into one with cacheability bits.
 */
final class GicV3State {
    static final String GIC_RECORD = "kvm-arm64-vgic";
    static final String ITS_RECORD = "kvm-arm64-vgic-its";
    static final int VERSION = 1;

    // distributor (GICv3 spec, chapter 12.9)
    private static final int GICD_CTLR = 0x0000;
    private static final int GICD_TYPER = 0x0004;
    private static final int GICD_STATUSR = 0x0010;
    private static final int GICD_IGROUPR = 0x0080;
    private static final int GICD_ISENABLER = 0x0100;
    private static final int GICD_ISPENDR = 0x0200;
    private static final int GICD_ISACTIVER = 0x0300;
    private static final int GICD_IPRIORITYR = 0x0400;
    private static final int GICD_ICFGR = 0x0c00;
    private static final int GICD_IROUTER = 0x6000;
    // redistributor: RD_base frame, then the SGI_base frame 64 KiB above it
    private static final int GICR_CTLR = 0x0000;
    private static final int GICR_STATUSR = 0x0010;
    private static final int GICR_WAKER = 0x0014;
    private static final int GICR_PROPBASER = 0x0070;
    private static final int GICR_PENDBASER = 0x0078;
    private static final int GICR_SGI = 0x1_0000;
    private static final int GICR_IGROUPR0 = GICR_SGI + 0x0080;
    private static final int GICR_ISENABLER0 = GICR_SGI + 0x0100;
    private static final int GICR_ISPENDR0 = GICR_SGI + 0x0200;
    private static final int GICR_ISACTIVER0 = GICR_SGI + 0x0300;
    private static final int GICR_IPRIORITYR0 = GICR_SGI + 0x0400;
    private static final int GICR_ICFGR0 = GICR_SGI + 0x0c00;
    // ITS control frame
    static final int GITS_CTLR = 0x0000;
    static final int GITS_IIDR = 0x0004;
    static final int GITS_CBASER = 0x0080;
    static final int GITS_CWRITER = 0x0088;
    static final int GITS_CREADR = 0x0090;
    static final int GITS_BASER = 0x0100;
    private static final int GITS_BASER_COUNT = 8;

    private static final int PRIVATE_IRQS = 32;

    // CPU interface registers: op0, op1, CRn, CRm, op2
    private static final int ICC_SRE_EL1 = sysreg(3, 0, 12, 12, 5);
    private static final int ICC_CTLR_EL1 = sysreg(3, 0, 12, 12, 4);
    private static final int ICC_IGRPEN0_EL1 = sysreg(3, 0, 12, 12, 6);
    private static final int ICC_IGRPEN1_EL1 = sysreg(3, 0, 12, 12, 7);
    private static final int ICC_PMR_EL1 = sysreg(3, 0, 4, 6, 0);
    private static final int ICC_BPR0_EL1 = sysreg(3, 0, 12, 8, 3);
    private static final int ICC_BPR1_EL1 = sysreg(3, 0, 12, 12, 3);

    private static int icc_ap0r(int n) {
        return sysreg(3, 0, 12, 8, 4 | n);
    }

    private static int icc_ap1r(int n) {
        return sysreg(3, 0, 12, 9, n);
    }

    private static int sysreg(int op0, int op1, int crn, int crm, int op2) {
        return op0 << KVM_REG_ARM64_SYSREG_OP0_SHIFT | op1 << KVM_REG_ARM64_SYSREG_OP1_SHIFT
                | crn << KVM_REG_ARM64_SYSREG_CRN_SHIFT | crm << KVM_REG_ARM64_SYSREG_CRM_SHIFT
                | op2 << KVM_REG_ARM64_SYSREG_OP2_SHIFT;
    }

    private GicV3State() {}

    /** The attr bits naming the vCPU whose MPIDR affinity (as in MPIDR_EL1: Aff3 in bits 32-39) is {@code mpidr}. */
    static long mpidrAttr(long mpidr) {
        long packed = (mpidr & 0xff_ffffL) | ((mpidr >>> 32) & 0xff) << 24;
        return packed << KVM_DEV_ARM_VGIC_V3_MPIDR_SHIFT;
    }

    /**
     * The MPIDR_EL1 affinity KVM gives vCPU {@code id} at reset (sys_regs.c, reset_mpidr: Aff0 = id bits
     * 0-3, Aff1 = bits 4-11, Aff2 = bits 12-19), which Nimbus never changes.
     */
    static long kvmMpidr(int id) {
        return (id & 0x0fL) | ((id >> 4) & 0xffL) << 8 | ((id >> 12) & 0xffL) << 16;
    }

    private record Entry(int group, long attr, long value) {}

    private static long levelAttr(long mpidrAttr, int intid) {
        return mpidrAttr | (long) VGIC_LEVEL_INFO_LINE_LEVEL << KVM_DEV_ARM_VGIC_LINE_LEVEL_INFO_SHIFT | intid;
    }

    /** Interrupts (SGIs, PPIs and SPIs) the distributor has, from GICD_TYPER.ITLinesNumber. */
    static int interrupts(KvmDeviceFd gic) {
        int typer = gic.getAttr32(KVM_DEV_ARM_VGIC_GRP_DIST_REGS, GICD_TYPER);
        return Math.min(1020, ((typer & 0x1f) + 1) * 32);
    }

    /** The GIC record: every register of the list above, read in the order restore writes them. */
    static StateRecord save(KvmDeviceFd gic, long[] mpidrAttrs) {
        if (mpidrAttrs.length == 0) {
            throw new IllegalStateException("a GICv3 without vCPUs has no state to save");
        }
        int irqs = interrupts(gic);
        List<Entry> order = new ArrayList<>();
        order.add(new Entry(KVM_DEV_ARM_VGIC_GRP_DIST_REGS, GICD_CTLR, 0));
        for (long cpu : mpidrAttrs) {
            int r = KVM_DEV_ARM_VGIC_GRP_REDIST_REGS;
            for (int off : new int[] {GICR_STATUSR, GICR_WAKER, GICR_PROPBASER, GICR_PROPBASER + 4, GICR_PENDBASER,
                    GICR_PENDBASER + 4, GICR_CTLR, GICR_IGROUPR0, GICR_ICFGR0, GICR_ICFGR0 + 4}) {
                order.add(new Entry(r, cpu | off, 0));
            }
            for (int i = 0; i < PRIVATE_IRQS / 4; i++) {
                order.add(new Entry(r, cpu | (GICR_IPRIORITYR0 + 4 * i), 0));
            }
            order.add(new Entry(KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO, levelAttr(cpu, 0), 0));
            for (int off : new int[] {GICR_ISENABLER0, GICR_ISPENDR0, GICR_ISACTIVER0}) {
                order.add(new Entry(r, cpu | off, 0));
            }
        }
        int d = KVM_DEV_ARM_VGIC_GRP_DIST_REGS;
        order.add(new Entry(d, GICD_STATUSR, 0));
        perInterrupt(order, GICD_IGROUPR, 1, irqs);
        perInterrupt(order, GICD_IPRIORITYR, 8, irqs);
        for (int intid = PRIVATE_IRQS; intid < irqs; intid++) {
            order.add(new Entry(d, GICD_IROUTER + 8L * intid, 0));
            order.add(new Entry(d, GICD_IROUTER + 8L * intid + 4, 0));
        }
        perInterrupt(order, GICD_ICFGR, 2, irqs);
        // the SPIs' levels are the same through every vCPU, but the attr must name one (vgic_v3_parse_attr)
        for (int intid = PRIVATE_IRQS; intid < irqs; intid += 32) {
            order.add(new Entry(KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO, levelAttr(mpidrAttrs[0], intid), 0));
        }
        perInterrupt(order, GICD_ISENABLER, 1, irqs);
        perInterrupt(order, GICD_ISPENDR, 1, irqs);
        perInterrupt(order, GICD_ISACTIVER, 1, irqs);

        List<Entry> entries = new ArrayList<>(order.size() + mpidrAttrs.length * 15);
        for (Entry e : order) {
            entries.add(new Entry(e.group, e.attr, Integer.toUnsignedLong(gic.getAttr32(e.group, e.attr))));
        }
        for (long cpu : mpidrAttrs) {
            int g = KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS;
            long ctlr = gic.getAttr(g, cpu | ICC_CTLR_EL1);
            List<Integer> regs = new ArrayList<>(List.of(ICC_SRE_EL1, ICC_CTLR_EL1, ICC_IGRPEN0_EL1, ICC_IGRPEN1_EL1,
                    ICC_PMR_EL1, ICC_BPR0_EL1, ICC_BPR1_EL1, icc_ap0r(0), icc_ap1r(0)));
            // ICC_CTLR_EL1.PRIbits (10:8) is the priority bits less one; the active-priority registers beyond
            // the first exist with 6 bits (AP*R1) and 7 bits (AP*R2, AP*R3) of priority
            int priorityBits = (int) ((ctlr >> 8) & 7) + 1;
            if (priorityBits >= 6) {
                regs.addAll(List.of(icc_ap0r(1), icc_ap1r(1)));
            }
            if (priorityBits == 7) {
                regs.addAll(List.of(icc_ap0r(2), icc_ap0r(3), icc_ap1r(2), icc_ap1r(3)));
            }
            for (int instr : regs) {
                entries.add(new Entry(g, cpu | instr, gic.getAttr(g, cpu | instr)));
            }
        }

        ByteBuffer b = ByteBuffer.allocate(12 + 8 * mpidrAttrs.length + 20 * entries.size()).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(irqs).putInt(mpidrAttrs.length);
        for (long cpu : mpidrAttrs) {
            b.putLong(cpu);
        }
        b.putInt(entries.size());
        for (Entry e : entries) {
            b.putInt(e.group).putLong(e.attr).putLong(e.value);
        }
        return new StateRecord(GIC_RECORD, VERSION, b.array());
    }

    /** The 32-bit registers from {@code base} with {@code bits} per interrupt, for the SPIs only. */
    private static void perInterrupt(List<Entry> out, int base, int bits, int irqs) {
        for (int intid = PRIVATE_IRQS; intid < irqs; intid += 32 / bits) {
            out.add(new Entry(KVM_DEV_ARM_VGIC_GRP_DIST_REGS, base + (long) intid * bits / 8, 0));
        }
    }

    private static final Set<Integer> GIC_GROUPS = Set.of(KVM_DEV_ARM_VGIC_GRP_DIST_REGS,
            KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS, KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO);

    /** Checks the GIC record against this controller and its vCPUs, then writes it. */
    static void restore(KvmDeviceFd gic, long[] mpidrAttrs, StateRecord record) {
        String id = record.id();
        ByteBuffer b = ByteBuffer.wrap(record.data()).order(ByteOrder.LITTLE_ENDIAN);
        List<Entry> entries = new ArrayList<>();
        try {
            int irqs = b.getInt();
            int have = interrupts(gic);
            if (irqs != have) {
                throw new StateException(id + ": saved with " + irqs + " interrupts, this GIC has " + have);
            }
            int cpus = b.getInt();
            if (cpus != mpidrAttrs.length) {
                throw new StateException(id + ": saved with " + Integer.toUnsignedString(cpus) + " vCPUs, this VM has "
                        + mpidrAttrs.length);
            }
            long[] saved = new long[cpus];
            for (int i = 0; i < cpus; i++) {
                saved[i] = b.getLong();
            }
            if (!Arrays.equals(saved, mpidrAttrs)) {
                throw new StateException(id + ": saved for vCPU affinities " + hex(saved) + ", this VM has " + hex(mpidrAttrs));
            }
            int count = b.getInt();
            if (count < 0 || count > b.remaining() / 20) {
                throw new StateException(id + ": truncated (" + Integer.toUnsignedString(count) + " entries in "
                        + b.remaining() + " bytes)");
            }
            for (int i = 0; i < count; i++) {
                Entry e = new Entry(b.getInt(), b.getLong(), b.getLong());
                check(id, e, saved);
                entries.add(e);
            }
        } catch (BufferUnderflowException e) {
            throw new StateException(id + ": truncated", e);
        }
        if (b.hasRemaining()) {
            throw new StateException(id + ": " + b.remaining() + " bytes after the last entry");
        }
        for (Entry e : entries) {
            try {
                if (e.group == KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS) {
                    gic.setAttr(e.group, e.attr, e.value);
                } else {
                    gic.setAttr32(e.group, e.attr, (int) e.value);
                }
            } catch (SyscallException x) {
                throw new StateException(String.format("%s: KVM refused group %d attr 0x%x = 0x%x (%s)", id, e.group,
                        e.attr, e.value, Errno.name(x.errno())), x);
            }
        }
    }

    private static void check(String id, Entry e, long[] cpus) {
        if (!GIC_GROUPS.contains(e.group)) {
            throw new StateException(id + ": unknown attribute group " + e.group);
        }
        // every group but the distributor's names a vCPU, even for the SPIs' levels
        long cpu = e.attr & KVM_DEV_ARM_VGIC_V3_MPIDR_MASK;
        if (e.group != KVM_DEV_ARM_VGIC_GRP_DIST_REGS && Arrays.stream(cpus).noneMatch(c -> c == cpu)) {
            throw new StateException(String.format("%s: attr 0x%x names no vCPU of this VM", id, e.attr));
        }
        if (e.group != KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS && (e.value >>> 32) != 0) {
            throw new StateException(String.format("%s: attr 0x%x has a 32-bit register but the value 0x%x", id, e.attr, e.value));
        }
    }

    private static String hex(long[] values) {
        return Arrays.stream(values).mapToObj(v -> "0x" + Long.toHexString(v >>> KVM_DEV_ARM_VGIC_V3_MPIDR_SHIFT)).toList().toString();
    }

    private static final int[] ITS_SAVED = itsSaved();

    private static int[] itsSaved() {
        int[] offsets = new int[5 + GITS_BASER_COUNT];
        int i = 0;
        for (int off : new int[] {GITS_CBASER, GITS_CREADR, GITS_CWRITER, GITS_IIDR}) {
            offsets[i++] = off;
        }
        for (int n = 0; n < GITS_BASER_COUNT; n++) {
            offsets[i++] = GITS_BASER + 8 * n;
        }
        offsets[i] = GITS_CTLR;
        return offsets;
    }

    /** The ITS record: its tables go to guest memory first ({@code KVM_DEV_ARM_ITS_SAVE_TABLES}). */
    static StateRecord saveIts(KvmDeviceFd its) {
        its.setAttr(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_ITS_SAVE_TABLES);
        ByteBuffer b = ByteBuffer.allocate(4 + 16 * ITS_SAVED.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(ITS_SAVED.length);
        for (int off : ITS_SAVED) {
            b.putLong(off).putLong(its.getAttr(KVM_DEV_ARM_VGIC_GRP_ITS_REGS, off));
        }
        return new StateRecord(ITS_RECORD, VERSION, b.array());
    }

    static void restoreIts(KvmDeviceFd its, StateRecord record) {
        String id = record.id();
        ByteBuffer b = ByteBuffer.wrap(record.data()).order(ByteOrder.LITTLE_ENDIAN);
        long[] offsets;
        long[] values;
        try {
            int count = b.getInt();
            if (count != ITS_SAVED.length) {
                throw new StateException(id + ": " + Integer.toUnsignedString(count) + " registers, expected " + ITS_SAVED.length);
            }
            offsets = new long[count];
            values = new long[count];
            for (int i = 0; i < count; i++) {
                offsets[i] = b.getLong();
                values[i] = b.getLong();
                if (offsets[i] != ITS_SAVED[i]) {
                    throw new StateException(String.format("%s: register %d is at 0x%x, expected 0x%x", id, i, offsets[i], ITS_SAVED[i]));
                }
            }
        } catch (BufferUnderflowException e) {
            throw new StateException(id + ": truncated", e);
        }
        if (b.hasRemaining()) {
            throw new StateException(id + ": " + b.remaining() + " bytes after the last register");
        }
        try {
            for (int i = 0; i < offsets.length - 1; i++) {  // all but GITS_CTLR, the last
                if (offsets[i] == GITS_CBASER && values[i] == 0) {
                    // never programmed: the fresh ITS holds 0 already, and KVM sanitizes a written 0's
                    // cacheability fields, so the guest would read back a value it never wrote
                    continue;
                }
                its.setAttr(KVM_DEV_ARM_VGIC_GRP_ITS_REGS, offsets[i], values[i]);
            }
            its.setAttr(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_ITS_RESTORE_TABLES);
            its.setAttr(KVM_DEV_ARM_VGIC_GRP_ITS_REGS, GITS_CTLR, values[offsets.length - 1]);
        } catch (SyscallException x) {
            throw new StateException(id + ": KVM refused the ITS state (" + x.getMessage() + ")", x);
        }
    }
}
