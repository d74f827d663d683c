package dev.nimbus.kvm.abi;

import dev.nimbus.host.Signals;
import dev.nimbus.testsupport.abi.HeaderProbe;
import dev.nimbus.testsupport.abi.LayoutChecker;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

import java.lang.foreign.StructLayout;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every struct layout, ioctl number and constant of the backend, compared with the kernel's own headers by
 * compiling a probe program with gcc: the host's {@code <linux/kvm.h>} for x86-64 and Debian's cross headers
 * for AArch64 and riscv64.
 */
class KvmHeaderConformanceTest {
    /** Constants newer than the 6.1 headers Debian bookworm ships (riscv AIA came in 6.5). */
    private static final Set<String> NEWER_THAN_BOOKWORM_HEADERS = Set.of(
            "KVM_DEV_TYPE_RISCV_AIA", "KVM_DEV_RISCV_AIA_GRP_CONFIG", "KVM_DEV_RISCV_AIA_CONFIG_MODE",
            "KVM_DEV_RISCV_AIA_CONFIG_IDS", "KVM_DEV_RISCV_AIA_CONFIG_SRCS", "KVM_DEV_RISCV_AIA_CONFIG_HART_BITS",
            "KVM_DEV_RISCV_AIA_MODE_EMUL", "KVM_DEV_RISCV_AIA_GRP_ADDR", "KVM_DEV_RISCV_AIA_ADDR_APLIC",
            "KVM_DEV_RISCV_AIA_GRP_CTRL", "KVM_DEV_RISCV_AIA_CTRL_INIT");

    private static List<StructLayout> archStructs(KvmHeaders h) {
        return switch (h) {
            case X86_64 -> X86KvmStructs.ALL;
            case ARM64 -> Arm64KvmStructs.ALL;
            case RISCV64 -> Riscv64KvmStructs.ALL;
        };
    }

    private static Map<String, Long> ioctls(KvmHeaders h) {
        Map<String, Long> m = new LinkedHashMap<>(KvmIoctls.COMMON);
        switch (h) {
            case X86_64 -> m.putAll(KvmIoctls.X86);
            case ARM64 -> m.putAll(KvmIoctls.ARM64);
            case RISCV64 -> { }
        }
        return m;
    }

    static Map<String, Long> constants() throws IllegalAccessException {
        Map<String, Long> m = new LinkedHashMap<>();
        for (Field f : KvmConstants.class.getFields()) {
            if (Modifier.isStatic(f.getModifiers()) && (f.getName().startsWith("KVM_") || f.getName().startsWith("VGIC_"))) {
                m.put(f.getName(), ((Number) f.get(null)).longValue());
            }
        }
        return m;
    }

    private static HeaderProbe.Answers probe(KvmHeaders h, Map<String, Long> constants) throws Exception {
        h.ensure();
        List<StructLayout> structs = new ArrayList<>(KvmStructs.ALL);
        structs.addAll(archStructs(h));
        Map<String, Long> names = new LinkedHashMap<>(constants);
        names.putAll(ioctls(h));
        String body = LayoutChecker.probe(structs) + HeaderProbe.constantProbe(names.keySet());
        return HeaderProbe.run(h.program("linux/kvm.h"), body);
    }

    @ParameterizedTest
    @EnumSource(KvmHeaders.class)
    void structLayoutsMatchTheKernelHeaders(KvmHeaders headers) throws Exception {
        HeaderProbe.Answers answers = probe(headers, Map.of());
        List<StructLayout> structs = new ArrayList<>(KvmStructs.ALL);
        structs.addAll(archStructs(headers));
        assertThat(LayoutChecker.compare(structs, answers)).isEmpty();
    }

    @ParameterizedTest
    @EnumSource(KvmHeaders.class)
    void ioctlNumbersMatchTheKernelHeaders(KvmHeaders headers) throws Exception {
        HeaderProbe.Answers answers = probe(headers, Map.of());
        List<String> missing = new ArrayList<>();
        assertThat(LayoutChecker.compareConstants(ioctls(headers), answers, missing)).isEmpty();
        assertThat(missing).as("ioctls the %s headers do not define", headers).isEmpty();
    }

    @Test
    void constantsMatchTheKernelHeadersOfEveryArchitectureThatDefinesThem() throws Exception {
        Map<String, Long> constants = constants();
        List<String> diffs = new ArrayList<>();
        Set<String> foundSomewhere = new java.util.HashSet<>();
        for (KvmHeaders h : KvmHeaders.values()) {
            HeaderProbe.Answers answers = probe(h, constants);
            List<String> missing = new ArrayList<>();
            LayoutChecker.compareConstants(constants, answers, missing)
                    .forEach(d -> diffs.add(h + ": " + d));
            constants.keySet().stream().filter(n -> !missing.contains(n)).forEach(foundSomewhere::add);
        }
        assertThat(diffs).isEmpty();
        List<String> unchecked = constants.keySet().stream()
                .filter(n -> !foundSomewhere.contains(n) && !NEWER_THAN_BOOKWORM_HEADERS.contains(n)).toList();
        assertThat(unchecked).as("constants no header defines").isEmpty();
    }

    @Test
    void sigactionLayoutMatchesGlibc() throws Exception {
        HeaderProbe.Answers answers = HeaderProbe.run(KvmHeaders.X86_64.program("signal.h"),
                LayoutChecker.probe(List.of(Signals.SIGACTION)));
        assertThat(LayoutChecker.compare(List.of(Signals.SIGACTION), answers)).isEmpty();
    }
}
