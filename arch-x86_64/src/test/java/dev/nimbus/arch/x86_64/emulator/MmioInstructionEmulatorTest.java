package dev.nimbus.arch.x86_64.emulator;

import dev.nimbus.arch.x86_64.X86_64Platform;
import dev.nimbus.arch.x86_64.emulator.RecordingMmio.Access;
import dev.nimbus.hypervisor.x86.InstructionEmulator;
import dev.nimbus.hypervisor.x86.InstructionEmulator.CodeMode;
import dev.nimbus.hypervisor.x86.InstructionEmulator.Outcome;
import org.junit.jupiter.api.Test;

import java.util.HexFormat;

import static dev.nimbus.arch.x86_64.emulator.Registers.RCX;
import static org.assertj.core.api.Assertions.assertThat;

/** The emulator as a backend reaches it: through the SPI's {@link InstructionEmulator}, from the platform's VM options. */
class MmioInstructionEmulatorTest {
    static final long GPA = 0xfeb0_1004L;

    final InstructionEmulator emulator = new X86_64Platform().vmOptions().emulator().orElseThrow();
    final TestRegisters registers = TestRegisters.at(0x1000).with(RCX, 0x1122_3344_5566_7788L);
    final RecordingMmio mmio = new RecordingMmio(0);

    private Outcome emulate(CodeMode mode, String hex) {
        byte[] bytes = HexFormat.ofDelimiter(" ").parseHex(hex);
        return emulator.emulate(bytes, bytes.length, mode, registers, GPA, mmio);
    }

    @Test
    void theX86PlatformHandsBackendsThisEmulator() {
        assertThat(emulator).isSameAs(MmioInstructionEmulator.INSTANCE);
    }

    @Test
    void aLongModeMovIsEmulatedAndRipAdvanced() {
        assertThat(emulate(CodeMode.LONG_64, "48 89 08")).isEqualTo(new Outcome.Emulated(0x1003)); // mov [rax], rcx
        assertThat(mmio.accesses).containsExactly(Access.write(GPA, 8, 0x1122_3344_5566_7788L));
        assertThat(registers.rip).isEqualTo(0x1003);
    }

    @Test
    void eachCodeModeDecodesAsItsOwn() {
        // 89 08 is mov [rax], ecx in 64-bit and 32-bit code, mov [bx+si], cx in 16-bit code
        emulate(CodeMode.PROTECTED_32, "89 08");
        registers.rip = 0x1000;
        emulate(CodeMode.PROTECTED_16, "89 08");
        assertThat(mmio.accesses).containsExactly(Access.write(GPA, 4, 0x5566_7788L), Access.write(GPA, 2, 0x7788L));
        // 48 is dec eax outside 64-bit mode: an opcode this emulator refuses, naming it
        registers.rip = 0x1000;
        assertThat(emulate(CodeMode.PROTECTED_32, "48 89 08")).isEqualTo(new Outcome.CannotEmulate(
                "cannot emulate 48 at rip 0x1000: opcode 48 is not one this emulator handles"));
    }
}
