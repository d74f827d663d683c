package dev.nimbus.arch.riscv64.hart;

import dev.nimbus.arch.riscv64.FakeRiscv64Vcpu;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The register dump a fatal exit prints: each value under its name, and never an exception. */
class RegisterDumpTest {
    @Test
    void namesEachRegisterWithItsValue() {
        FakeRiscv64Vcpu hart = new FakeRiscv64Vcpu(1);
        for (long csr : new long[] {Registers.SATP, Registers.SSTATUS, Registers.STVEC, Registers.SEPC, Registers.SIE, Registers.SIP}) {
            hart.regs.put(csr, 0L);
        }
        hart.regs.put(Registers.PC, 0x8020_0000L);
        hart.regs.put(Registers.MODE, Registers.MODE_S);
        hart.regs.put(Registers.SCAUSE, 0xdL);
        hart.regs.put(Registers.STVAL, 0xdead_beefL);
        for (int n = 1; n <= 31; n++) {
            hart.regs.put(Registers.x(n), 0x100L + n);
        }
        String dump = RegisterDump.describe(hart);
        assertThat(dump).startsWith("vCPU 1: pc=0000000080200000 mode=S")
                .contains("scause=000000000000000d", "stval=00000000deadbeef")
                .contains("ra  =0000000000000101", "sp  =0000000000000102", "a0  =000000000000010a", "t6  =000000000000011f");
    }

    @Test
    void aHartWhoseRegistersCannotBeReadIsSaidSo() {
        FakeRiscv64Vcpu hart = new FakeRiscv64Vcpu(0); // no registers set: the fake refuses to read them
        assertThat(RegisterDump.describe(hart)).startsWith("vCPU 0: registers unreadable");
    }
}
