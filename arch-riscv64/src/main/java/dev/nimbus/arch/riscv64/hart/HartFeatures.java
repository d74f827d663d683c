package dev.nimbus.arch.riscv64.hart;

import dev.nimbus.hypervisor.riscv64.Riscv64Vcpu;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.TreeMap;

/**
 * What the device tree says about one hart, as its vCPU reports it through one-reg: the ISA (single-letter
 * extensions from {@code config.isa}, multi-letter ones from the ISA extension registers that are on), the
 * paging mode ({@code config.satp_mode}), the timebase ({@code timer.frequency}) and the cache-block sizes
 * of Zicbom and Zicboz. Nothing here is a fixed string: a host whose KVM offers more extensions gives its
 * guests more.
 *
 * @param letters            the single-letter extensions, lower case in canonical order ({@code imafdc}, ...)
 * @param extensions         the multi-letter extensions that are on, lower case in the order {@link #MULTI_LETTER} has them
 * @param mmuType            the device tree's {@code mmu-type}: {@code riscv,sv39}, {@code riscv,sv48} or {@code riscv,sv57}
 * @param timebaseFrequency  the rate of the {@code time} CSR in Hz
 * @param cbomBlockSize      Zicbom's block size in bytes, when the hart has Zicbom
 * @param cbozBlockSize      Zicboz's block size in bytes, when the hart has Zicboz
 */
public record HartFeatures(String letters, List<String> extensions, String mmuType, long timebaseFrequency,
                           OptionalInt cbomBlockSize, OptionalInt cbozBlockSize) {
    /** The order of single-letter extensions in an ISA string (the unprivileged spec's naming chapter). */
    public static final String CANONICAL_ORDER = "imafdqlcbkjtpvh";
    /** satp's MODE values and the {@code mmu-type} each means. */
    static final Map<Long, String> SATP_MODES = Map.of(8L, "riscv,sv39", 9L, "riscv,sv48", 10L, "riscv,sv57");
    /** The paging mode to name when KVM does not say (before Linux 6.4): Sv39, which every RV64 MMU Linux runs on has. */
    public static final String DEFAULT_MMU_TYPE = "riscv,sv39";

    /**
     * The multi-letter extensions by their {@code KVM_RISCV_ISA_EXT_*} number (arch/riscv/include/uapi/asm/kvm.h,
     * enum KVM_RISCV_ISA_EXT_ID, up to ZAWRS as of Linux 6.12). The single letters (A, C, D, F, H, I, M, V) come
     * from {@code config.isa} and are left out. A number this table does not have is an extension Nimbus cannot
     * name yet; it is left out of the tree, which is safe (the guest just does not use it).
     */
    public static final Map<Integer, String> MULTI_LETTER = Map.ofEntries(
            Map.entry(7, "svpbmt"), Map.entry(8, "sstc"), Map.entry(9, "svinval"), Map.entry(10, "zihintpause"),
            Map.entry(11, "zicbom"), Map.entry(12, "zicboz"), Map.entry(13, "zbb"), Map.entry(14, "ssaia"),
            Map.entry(16, "svnapot"), Map.entry(17, "zba"), Map.entry(18, "zbs"), Map.entry(19, "zicntr"),
            Map.entry(20, "zicsr"), Map.entry(21, "zifencei"), Map.entry(22, "zihpm"), Map.entry(23, "smstateen"),
            Map.entry(24, "zicond"), Map.entry(25, "zbc"), Map.entry(26, "zbkb"), Map.entry(27, "zbkc"),
            Map.entry(28, "zbkx"), Map.entry(29, "zknd"), Map.entry(30, "zkne"), Map.entry(31, "zknh"),
            Map.entry(32, "zkr"), Map.entry(33, "zksed"), Map.entry(34, "zksh"), Map.entry(35, "zkt"),
            Map.entry(36, "zvbb"), Map.entry(37, "zvbc"), Map.entry(38, "zvkb"), Map.entry(39, "zvkg"),
            Map.entry(40, "zvkned"), Map.entry(41, "zvknha"), Map.entry(42, "zvknhb"), Map.entry(43, "zvksed"),
            Map.entry(44, "zvksh"), Map.entry(45, "zvkt"), Map.entry(46, "zfh"), Map.entry(47, "zfhmin"),
            Map.entry(48, "zihintntl"), Map.entry(49, "zvfh"), Map.entry(50, "zvfhmin"), Map.entry(51, "zfa"),
            Map.entry(52, "ztso"), Map.entry(53, "zacas"), Map.entry(54, "sscofpmf"), Map.entry(55, "zimop"),
            Map.entry(56, "zca"), Map.entry(57, "zcb"), Map.entry(58, "zcd"), Map.entry(59, "zcf"),
            Map.entry(60, "zcmop"), Map.entry(61, "zawrs"));

    public HartFeatures {
        Objects.requireNonNull(letters, "letters");
        extensions = List.copyOf(extensions);
        Objects.requireNonNull(mmuType, "mmuType");
        Objects.requireNonNull(cbomBlockSize, "cbomBlockSize");
        Objects.requireNonNull(cbozBlockSize, "cbozBlockSize");
        if (letters.indexOf('i') < 0) {
            throw new IllegalArgumentException("a hart without the base integer ISA (I): \"" + letters + "\"");
        }
        if (timebaseFrequency <= 0 || timebaseFrequency > 0xffff_ffffL) {
            throw new IllegalArgumentException("timebase frequency " + timebaseFrequency + " Hz does not fit the device tree's one cell");
        }
        if (!SATP_MODES.containsValue(mmuType)) {
            throw new IllegalArgumentException("mmu-type " + mmuType);
        }
    }

    /** Reads hart {@code vcpu}'s features through one-reg. Any vCPU thread may call it before the hart first runs. */
    public static HartFeatures read(Riscv64Vcpu vcpu) {
        long isa = vcpu.getOneReg(Registers.CONFIG_ISA);
        StringBuilder letters = new StringBuilder();
        for (char c : CANONICAL_ORDER.toCharArray()) {
            // H is the hypervisor extension of the host; KVM does not give it to a guest, and says so here
            if ((isa & (1L << (c - 'a'))) != 0 && c != 'h') {
                letters.append(c);
            }
        }
        long[] registers = registers(vcpu);
        TreeMap<Integer, String> on = new TreeMap<>();
        boolean satpMode = false;
        boolean cboz = false;
        for (long r : registers) {
            satpMode |= r == Registers.CONFIG_SATP_MODE;
            cboz |= r == Registers.CONFIG_ZICBOZ_BLOCK_SIZE;
            int id = Registers.isaExtensionId(r);
            String name = MULTI_LETTER.get(id);
            if (name != null && vcpu.getOneReg(r) != 0) {
                on.put(id, name);
            }
        }
        String mmu = satpMode ? SATP_MODES.getOrDefault(vcpu.getOneReg(Registers.CONFIG_SATP_MODE), DEFAULT_MMU_TYPE) : DEFAULT_MMU_TYPE;
        OptionalInt cbom = on.containsValue("zicbom") ? OptionalInt.of((int) vcpu.getOneReg(Registers.CONFIG_ZICBOM_BLOCK_SIZE)) : OptionalInt.empty();
        OptionalInt cbozSize = on.containsValue("zicboz") && cboz
                ? OptionalInt.of((int) vcpu.getOneReg(Registers.CONFIG_ZICBOZ_BLOCK_SIZE)) : OptionalInt.empty();
        return new HartFeatures(letters.toString(), new ArrayList<>(on.values()), mmu, vcpu.getOneReg(Registers.TIMER_FREQUENCY),
                cbom, cbozSize);
    }

    /**
     * The hart's registers: {@code KVM_GET_REG_LIST}, which riscv64 KVM has from Linux 6.6; before that, the
     * registers this class asks about that a read answers (one that fails does not exist on this host).
     */
    private static long[] registers(Riscv64Vcpu vcpu) {
        try {
            return vcpu.registerList();
        } catch (RuntimeException noRegList) {
            List<Long> candidates = new ArrayList<>(List.of(Registers.CONFIG_SATP_MODE, Registers.CONFIG_ZICBOZ_BLOCK_SIZE));
            MULTI_LETTER.keySet().stream().sorted().forEach(id -> candidates.add(Registers.isaExtension(id)));
            return candidates.stream().filter(r -> answers(vcpu, r)).mapToLong(Long::longValue).toArray();
        }
    }

    private static boolean answers(Riscv64Vcpu vcpu, long register) {
        try {
            vcpu.getOneReg(register);
            return true;
        } catch (RuntimeException absent) {
            return false;
        }
    }

    /** {@code riscv,isa-base}: {@code rv64i}. */
    public String isaBase() {
        return "rv64i";
    }

    /** {@code riscv,isa-extensions}: every extension by name, the single letters first. */
    public List<String> isaExtensions() {
        List<String> all = new ArrayList<>();
        letters.chars().forEach(c -> all.add(Character.toString(c)));
        all.addAll(extensions);
        return all;
    }

    /** {@code riscv,isa}, the older form kernels before 6.7 read: {@code rv64imafdc_zicsr_zifencei...}. */
    public String isaString() {
        StringBuilder s = new StringBuilder("rv64").append(letters);
        extensions.forEach(e -> s.append('_').append(e));
        return s.toString();
    }
}
