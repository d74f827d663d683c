package dev.nimbus.arch.aarch64.boot;

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

/** The one-reg ids against gcc's evaluation of the arm64 uapi headers (Debian's linux-libc-dev-arm64-cross). */
class RegistersTest {
    private static final Map<String, Long> C = new HashMap<>();

    @BeforeAll
    static void compile(@TempDir Path dir) throws Exception {
        HostTools.ensurePackages("gcc", "linux-libc-dev-arm64-cross");
        Path src = Files.writeString(dir.resolve("ids.c"), """
                #include <stdio.h>
                #include <stddef.h>
                #include <linux/kvm.h>
                #define CORE(r) (unsigned long long)(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | KVM_REG_ARM_CORE_REG(r))
                #define SYS(...) (unsigned long long)ARM64_SYS_REG(__VA_ARGS__)
                int main(void) {
                    printf("x0 %llx\\nx1 %llx\\nx30 %llx\\nsp %llx\\npc %llx\\npstate %llx\\nsp_el1 %llx\\nelr_el1 %llx\\n",
                           CORE(regs.regs[0]), CORE(regs.regs[1]), CORE(regs.regs[30]), CORE(regs.sp), CORE(regs.pc),
                           CORE(regs.pstate), CORE(sp_el1), CORE(elr_el1));
                    printf("mpidr %llx\\nesr %llx\\nfar %llx\\nsctlr %llx\\n", SYS(3, 0, 0, 0, 5), SYS(3, 0, 5, 2, 0),
                           SYS(3, 0, 6, 0, 0), SYS(3, 0, 1, 0, 0));
                    printf("pstate_boot %llx\\n", (unsigned long long)(PSR_MODE_EL1h | PSR_D_BIT | PSR_A_BIT | PSR_I_BIT | PSR_F_BIT));
                    return 0;
                }
                """);
        Path exe = dir.resolve("ids");
        HostTools.Result cc = HostTools.runSeparately(List.of("gcc", "-I/usr/aarch64-linux-gnu/include", "-o", exe.toString(), src.toString()));
        assertThat(cc.exit()).as(cc.err()).isZero();
        HostTools.Result out = HostTools.runSeparately(List.of(exe.toString()));
        out.out().lines().map(l -> l.split(" ")).forEach(f -> C.put(f[0], Long.parseUnsignedLong(f[1], 16)));
    }

    @Test
    void coreRegisterIdsAreTheHeadersKvmRegsOffsets() {
        assertThat(Registers.x(0)).isEqualTo(C.get("x0"));
        assertThat(Registers.x(1)).isEqualTo(C.get("x1"));
        assertThat(Registers.x(30)).isEqualTo(C.get("x30"));
        assertThat(Registers.SP).isEqualTo(C.get("sp"));
        assertThat(Registers.PC).isEqualTo(C.get("pc"));
        assertThat(Registers.PSTATE).isEqualTo(C.get("pstate"));
        assertThat(Registers.SP_EL1).isEqualTo(C.get("sp_el1"));
        assertThat(Registers.ELR_EL1).isEqualTo(C.get("elr_el1"));
    }

    @Test
    void systemRegisterIdsAreTheHeadersArm64SysRegEncoding() {
        assertThat(Registers.MPIDR_EL1).isEqualTo(C.get("mpidr"));
        assertThat(Registers.ESR_EL1).isEqualTo(C.get("esr"));
        assertThat(Registers.FAR_EL1).isEqualTo(C.get("far"));
        assertThat(Registers.SCTLR_EL1).isEqualTo(C.get("sctlr"));
    }

    @Test
    void bootPstateIsEl1hWithDaifMasked() {
        assertThat(Registers.PSTATE_EL1H_DAIF_MASKED).isEqualTo(C.get("pstate_boot"));
    }
}
