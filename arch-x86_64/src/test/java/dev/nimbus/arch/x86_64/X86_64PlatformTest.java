package dev.nimbus.arch.x86_64;

import dev.nimbus.hypervisor.Arch;
import dev.nimbus.hypervisor.arch.ArchPlatforms;
import dev.nimbus.hypervisor.arch.PlatformDevice;
import dev.nimbus.hypervisor.arch.PlatformDevice.SerialPort;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class X86_64PlatformTest {
    final X86_64Platform platform = new X86_64Platform();

    @Test
    void serviceLoaderFindsThePlatformForX86_64() {
        assertThat(ArchPlatforms.forArch(Arch.X86_64, getClass().getClassLoader())).isInstanceOf(X86_64Platform.class);
    }

    @Test
    void platformDevicesAreThePcOnes() {
        assertThat(platform.platformDevices(platform.layout(X86Layout.GIB))).containsExactly(
                new SerialPort(SerialPort.Model.UART_16550_PIO, 0x3f8, 4),
                new PlatformDevice.RealTimeClock(PlatformDevice.RealTimeClock.Model.CMOS, 0x70, 8),
                new PlatformDevice.I8042(0x60, 1),
                new PlatformDevice.DebugPort(0x80),
                new PlatformDevice.AcpiPowerControl(0x600));
    }

    @Test
    void powerControlPortsAreFreeOfTheOtherDevices() {
        int base = X86_64Platform.ACPI_POWER_PORT;
        for (int port : new int[] {0x3f8, 0x70, 0x60, 0x64, 0x80, 0xcf8}) {
            assertThat(port < base || port >= base + PlatformDevice.AcpiPowerControl.SIZE).as("port 0x%x", port).isTrue();
        }
    }

    @Test
    void interruptControllerCountIsChecked() {
        assertThatThrownBy(() -> platform.interruptController(platform.layout(X86Layout.GIB), 255))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("x86_64 machines have 1 to 254 vCPUs, not 255");
    }

    @Test
    void maxVcpusLeavesRoomForTheIoapicAndBroadcastIds() {
        assertThat(platform.maxVcpus()).isEqualTo(254);
    }
}
