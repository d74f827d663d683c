package dev.nimbus.mshv;

import dev.nimbus.hypervisor.x86.CpuidEntry;

import java.util.ArrayList;
import java.util.List;

/**
 * The CPUID the hypervisor would show a VP, as the SPI's supported list: what {@code HVCALL_GET_VP_CPUID_VALUES}
 * answers for the basic leaves up to leaf 0's maximum, the extended ones up to 0x80000000's, and the subleaves
 * of the indexed leaves. The hypervisor's own leaves (0x40000000 up, Hyper-V's) are left out: they name
 * enlightenments this backend does not set up, and the platform then gives the guest a plain signature.
 *
 * <p>Subleaves, per leaf: those up to the count in subleaf 0's EAX (7, 0x14, 0x17, 0x18, 0x1D, 0x20, 0x24);
 * up to and including the first of cache type 0 (4, 0x8000001D) or of level type 0 (0xB, 0x1F, 0x80000026);
 * or those that answer anything (0xD's XSAVE components, 0xF, 0x10, 0x12, 0x80000020). Questions go in
 * three rounds of batches: the maxima, subleaf 0 of every leaf, the further subleaves.
 */
final class HypervisorCpuid {
    /** Asks the hypervisor: {@code out[4 * i]} gets EAX, EBX, ECX, EDX of leaf {@code leaves[i]}, subleaf {@code subleaves[i]}. */
    @FunctionalInterface
    interface Source {
        void query(int[] leaves, int[] subleaves, int[] out);
    }

    static final int EXTENDED = 0x8000_0000;
    /** The highest leaves asked for, whatever the maxima claim. */
    static final int MAX_BASIC = 0x3f;
    static final int MAX_EXTENDED = 0x8000_003f;
    static final int MAX_SUBLEAF = 15;
    static final int XSAVE_COMPONENTS = 64;

    private enum Subleaves { NONE, COUNT_IN_EAX, UNTIL_NULL_CACHE, UNTIL_NULL_LEVEL, ANSWERING }

    private static Subleaves subleaves(int leaf) {
        return switch (leaf) {
            case 0x7, 0x14, 0x17, 0x18, 0x1d, 0x20, 0x24 -> Subleaves.COUNT_IN_EAX;
            case 0x4, 0x8000_001d -> Subleaves.UNTIL_NULL_CACHE;
            case 0xb, 0x1f, 0x8000_0026 -> Subleaves.UNTIL_NULL_LEVEL;
            case 0xd, 0xf, 0x10, 0x12, 0x8000_0020 -> Subleaves.ANSWERING;
            default -> Subleaves.NONE;
        };
    }

    private HypervisorCpuid() {}

    static List<CpuidEntry> read(Source source) {
        int[] max = ask(source, new int[] {0, EXTENDED}, new int[2]);
        int maxBasic = Math.min(max[0], MAX_BASIC);
        int maxExtended = Integer.compareUnsigned(max[4], EXTENDED) < 0 ? EXTENDED : Math.min(max[4], MAX_EXTENDED);

        List<Integer> leafList = new ArrayList<>();
        for (int l = 0; l <= maxBasic; l++) {
            leafList.add(l);
        }
        for (int l = EXTENDED; l <= maxExtended; l++) {
            leafList.add(l);
        }
        int[] leaves = leafList.stream().mapToInt(Integer::intValue).toArray();
        int[] first = ask(source, leaves, new int[leaves.length]);

        List<int[]> more = new ArrayList<>(); // {leaf, subleaf}
        for (int i = 0; i < leaves.length; i++) {
            int leaf = leaves[i];
            int last = switch (subleaves(leaf)) {
                case NONE -> 0;
                case COUNT_IN_EAX -> Math.min(Math.max(first[4 * i], 0), MAX_SUBLEAF);
                case UNTIL_NULL_CACHE, UNTIL_NULL_LEVEL -> MAX_SUBLEAF;
                case ANSWERING -> leaf == 0xd ? XSAVE_COMPONENTS - 1 : MAX_SUBLEAF;
            };
            for (int sub = 1; sub <= last; sub++) {
                more.add(new int[] {leaf, sub});
            }
        }
        int[] moreLeaves = more.stream().mapToInt(q -> q[0]).toArray();
        int[] moreSubleaves = more.stream().mapToInt(q -> q[1]).toArray();
        int[] rest = ask(source, moreLeaves, moreSubleaves);

        List<CpuidEntry> out = new ArrayList<>();
        int r = 0;
        for (int i = 0; i < leaves.length; i++) {
            int leaf = leaves[i];
            Subleaves kind = subleaves(leaf);
            boolean indexed = kind != Subleaves.NONE;
            CpuidEntry zero = entry(leaf, 0, indexed, first, i);
            out.add(zero);
            boolean ended = kind == Subleaves.UNTIL_NULL_CACHE && (zero.eax() & 0x1f) == 0
                    || kind == Subleaves.UNTIL_NULL_LEVEL && (zero.ecx() & 0xff00) == 0;
            while (r < moreLeaves.length && moreLeaves[r] == leaf) {
                CpuidEntry e = entry(leaf, moreSubleaves[r], true, rest, r);
                r++;
                if (ended) {
                    continue;
                }
                switch (kind) {
                    case UNTIL_NULL_CACHE -> {
                        out.add(e);
                        ended = (e.eax() & 0x1f) == 0;
                    }
                    case UNTIL_NULL_LEVEL -> {
                        out.add(e);
                        ended = (e.ecx() & 0xff00) == 0;
                    }
                    case ANSWERING -> {
                        if (e.eax() != 0 || e.ebx() != 0 || e.ecx() != 0 || e.edx() != 0 || (leaf == 0xd && e.index() == 1)) {
                            out.add(e);
                        }
                    }
                    default -> out.add(e);
                }
            }
        }
        return List.copyOf(out);
    }

    private static int[] ask(Source source, int[] leaves, int[] subleaves) {
        int[] out = new int[4 * leaves.length];
        if (leaves.length > 0) {
            source.query(leaves, subleaves, out);
        }
        return out;
    }

    private static CpuidEntry entry(int leaf, int subleaf, boolean indexed, int[] answers, int i) {
        return new CpuidEntry(leaf, subleaf, indexed, answers[4 * i], answers[4 * i + 1], answers[4 * i + 2], answers[4 * i + 3]);
    }
}
