package dev.nimbus.arch.riscv64.hart;

import dev.nimbus.testsupport.HostTools;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The one-reg ids against gcc's evaluation of the riscv64 uapi headers (Debian's linux-libc-dev-riscv64-cross).
 * Those headers are Linux 6.1's: {@code config.zicboz_block_size}, {@code config.satp_mode} and the ISA
 * extensions after Zicbom came later and are checked by their documented indices only.
 */
class RegistersTest {
    private static final Map<String, Long> C = new HashMap<>();

    @BeforeAll
    static void compile(@TempDir Path dir) throws Exception {
        HostTools.ensurePackages("gcc", "linux-libc-dev-riscv64-cross");
        Path src = Files.writeString(dir.resolve("ids.c"), """
                #include <stdio.h>
                #include <stddef.h>
                #include <linux/kvm.h>
                #define ID(type, index) (unsigned long long)(KVM_REG_RISCV | KVM_REG_SIZE_U64 | (type) | (index))
                int main(void) {
                    printf("isa %llx\\nzicbom %llx\\n", ID(KVM_REG_RISCV_CONFIG, KVM_REG_RISCV_CONFIG_REG(isa)),
                           ID(KVM_REG_RISCV_CONFIG, KVM_REG_RISCV_CONFIG_REG(zicbom_block_size)));
                    printf("pc %llx\\na0 %llx\\na1 %llx\\na7 %llx\\nmode %llx\\n", ID(KVM_REG_RISCV_CORE, KVM_REG_RISCV_CORE_REG(regs.pc)),
                           ID(KVM_REG_RISCV_CORE, KVM_REG_RISCV_CORE_REG(regs.a0)), ID(KVM_REG_RISCV_CORE, KVM_REG_RISCV_CORE_REG(regs.a1)),
                           ID(KVM_REG_RISCV_CORE, KVM_REG_RISCV_CORE_REG(regs.a7)), ID(KVM_REG_RISCV_CORE, KVM_REG_RISCV_CORE_REG(mode)));
                    printf("satp %llx\\nfrequency %llx\\n", ID(KVM_REG_RISCV_CSR, KVM_REG_RISCV_CSR_REG(satp)),
                           ID(KVM_REG_RISCV_TIMER, KVM_REG_RISCV_TIMER_REG(frequency)));
                    printf("ext_a %llx\\next_m %llx\\next_sstc %llx\\next_zicbom %llx\\n", ID(KVM_REG_RISCV_ISA_EXT, KVM_RISCV_ISA_EXT_A),
                           ID(KVM_REG_RISCV_ISA_EXT, KVM_RISCV_ISA_EXT_M), ID(KVM_REG_RISCV_ISA_EXT, KVM_RISCV_ISA_EXT_SSTC),
                           ID(KVM_REG_RISCV_ISA_EXT, KVM_RISCV_ISA_EXT_ZICBOM));
                    printf("mode_s %llx\\n", (unsigned long long)KVM_RISCV_MODE_S);
                    return 0;
                }
                """);
        Path exe = dir.resolve("ids");
        HostTools.Result cc = HostTools.runSeparately(List.of("gcc", "-I/usr/riscv64-linux-gnu/include", "-o", exe.toString(), src.toString()));
        assertThat(cc.exit()).as(cc.err()).isZero();
        HostTools.Result out = HostTools.runSeparately(List.of(exe.toString()));
        out.out().lines().map(l -> l.split(" ")).forEach(f -> C.put(f[0], Long.parseUnsignedLong(f[1], 16)));
    }

    @Test
    void configRegisterIdsAreTheHeadersKvmRiscvConfigIndices() {
        assertThat(Registers.CONFIG_ISA).isEqualTo(C.get("isa"));
        assertThat(Registers.CONFIG_ZICBOM_BLOCK_SIZE).isEqualTo(C.get("zicbom"));
        // newer than the headers: struct kvm_riscv_config { isa, zicbom_block_size, mvendorid, marchid, mimpid, zicboz_block_size, satp_mode }
        assertThat(Registers.CONFIG_ZICBOZ_BLOCK_SIZE).isEqualTo(C.get("isa") + 5);
        assertThat(Registers.CONFIG_SATP_MODE).isEqualTo(C.get("isa") + 6);
    }

    @Test
    void coreCsrAndTimerIdsAreTheHeadersOffsets() {
        assertThat(Registers.PC).isEqualTo(C.get("pc"));
        assertThat(Registers.a(0)).isEqualTo(C.get("a0"));
        assertThat(Registers.a(1)).isEqualTo(C.get("a1"));
        assertThat(Registers.a(7)).isEqualTo(C.get("a7"));
        assertThat(Registers.MODE).isEqualTo(C.get("mode"));
        assertThat(Registers.MODE_S).isEqualTo(C.get("mode_s"));
        assertThat(Registers.SATP).isEqualTo(C.get("satp"));
        assertThat(Registers.TIMER_FREQUENCY).isEqualTo(C.get("frequency"));
    }

    @Test
    void isaExtensionIdsAreTheHeadersEnumAndReadBack() {
        assertThat(Registers.isaExtension(0)).isEqualTo(C.get("ext_a"));
        assertThat(Registers.isaExtension(6)).isEqualTo(C.get("ext_m"));
        assertThat(Registers.isaExtension(8)).isEqualTo(C.get("ext_sstc"));
        assertThat(Registers.isaExtension(11)).isEqualTo(C.get("ext_zicbom"));
        assertThat(HartFeatures.MULTI_LETTER).containsEntry(8, "sstc").containsEntry(11, "zicbom");
        assertThat(Registers.isaExtensionId(C.get("ext_zicbom"))).isEqualTo(11);
        assertThat(Registers.isaExtensionId(C.get("pc"))).as("a core register is no extension").isEqualTo(-1);
    }
}
