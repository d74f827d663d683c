package dev.nimbus.arch.x86_64.boot;

import dev.nimbus.hypervisor.arch.PlatformDevice;
import org.junit.jupiter.api.Test;

import java.util.HexFormat;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class ResetVectorTest {
    @Test
    void stubWritesTheAcpiResetValueThenPulsesTheI8042ResetLineThenHalts() {
        byte[] code = ResetVector.code(List.of(new PlatformDevice.I8042(0x60, 1), new PlatformDevice.AcpiPowerControl(0x600)));
        // mov al,1 ; mov dx,0x602 ; out dx,al ; mov al,0xfe ; out 0x64,al ; hlt ; jmp $-1
        assertThat(HexFormat.of().formatHex(code)).isEqualTo("b001ba0206ee" + "b0fee664" + "f4ebfd");
    }

    @Test
    void stubFitsBeforeTheEndOfTheFirstMegabyte() {
        byte[] code = ResetVector.code(List.of(new PlatformDevice.AcpiPowerControl(0xfff0), new PlatformDevice.I8042(0x60, 1)));
        assertThat(ResetVector.ADDRESS + code.length).isLessThanOrEqualTo(0x100000);
    }

    @Test
    void withoutResetDevicesTheStubOnlyHalts() {
        assertThat(HexFormat.of().formatHex(ResetVector.code(List.of()))).isEqualTo("f4ebfd");
    }
}
