package dev.nimbus.arch.aarch64.fdt;

import dev.nimbus.testsupport.Dtc;
import dev.nimbus.testsupport.HostTools;
import dev.nimbus.arch.aarch64.Aarch64Layout;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.arch.MachineLayout;
import dev.nimbus.hypervisor.arch.PlatformDevice;
import dev.nimbus.hypervisor.memory.AddressRange;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class MachineDeviceTreeTest {
    @TempDir
    Path dir;

    private static final IrqChipConfig.GicV3 GIC = new IrqChipConfig.GicV3(Aarch64Layout.GIC_DISTRIBUTOR,
            Aarch64Layout.GIC_REDISTRIBUTOR, OptionalLong.empty(), Aarch64Layout.SPIS);
    private static final IrqChipConfig.GicV3 GIC_WITH_ITS = new IrqChipConfig.GicV3(Aarch64Layout.GIC_DISTRIBUTOR,
            Aarch64Layout.GIC_REDISTRIBUTOR, OptionalLong.of(Aarch64Layout.GIC_ITS), Aarch64Layout.SPIS);
    private static final List<PlatformDevice> DEVICES = List.of(
            new PlatformDevice.SerialPort(PlatformDevice.SerialPort.Model.PL011, Aarch64Layout.UART, Aarch64Layout.UART_SPI),
            new PlatformDevice.RealTimeClock(PlatformDevice.RealTimeClock.Model.PL031, Aarch64Layout.RTC, Aarch64Layout.RTC_SPI));
    private static final MachineLayout LAYOUT = Aarch64Layout.layout(512 * Aarch64Layout.MIB);
    private static final PlatformDevice.PciHost PCI = new PlatformDevice.PciHost(Aarch64Layout.PCI_ECAM, false);

    @BeforeAll
    static void dtc() {
        Dtc.ensure();
    }

    private static byte[] twoVcpuMachine() {
        return MachineDeviceTree.build(new MachineDeviceTree.Contents(List.of(Aarch64Layout.mpidr(0), Aarch64Layout.mpidr(1)),
                LAYOUT, GIC, DEVICES, "console=ttyAMA0 panic=-1", Optional.of(new AddressRange(0x5000_0000L, 0x12345))));
    }

    private String fdtget(byte[] blob, String... args) throws Exception {
        Path dtb = Files.write(dir.resolve("get.dtb"), blob);
        List<String> command = new java.util.ArrayList<>(List.of("fdtget", dtb.toString()));
        command.addAll(List.of(args));
        HostTools.Result r = HostTools.runSeparately(command);
        assertThat(r.exit()).as(String.join(" ", command) + ": " + r.err()).isZero();
        return r.out().strip();
    }

    private void decompilesCleanly(byte[] blob) throws Exception {
        HostTools.Result r = Dtc.decompile(dir, blob);
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.err()).as("dtc's warnings").isEmpty();
        assertThat(Dtc.recompile(dir, r.out())).as("dtc's compilation of the decompiled source").isEqualTo(blob);
    }

    @Test
    void theMachineTreeDecompilesWithoutErrorsOrWarnings() throws Exception {
        decompilesCleanly(twoVcpuMachine());
    }

    private static byte[] pciMachine(IrqChipConfig.GicV3 gic) {
        List<PlatformDevice> devices = new java.util.ArrayList<>(DEVICES);
        devices.add(PCI);
        return MachineDeviceTree.build(new MachineDeviceTree.Contents(List.of(Aarch64Layout.mpidr(0)), LAYOUT,
                gic, devices, "", Optional.empty()));
    }

    @Test
    void aMachineWithAnItsAndPciDecompilesWithoutErrorsOrWarnings() throws Exception {
        decompilesCleanly(pciMachine(GIC_WITH_ITS));
    }

    @Test
    void aMachineWithPciButNoItsDecompilesWithoutErrorsOrWarnings() throws Exception {
        decompilesCleanly(pciMachine(GIC));
    }

    @Test
    void theItsIsAnMsiControllerUnderTheGic() throws Exception {
        byte[] blob = pciMachine(GIC_WITH_ITS);
        String its = "/interrupt-controller@8000000/msi-controller@8080000";
        assertThat(fdtget(blob, its, "compatible")).isEqualTo("arm,gic-v3-its");
        assertThat(fdtget(blob, "-t", "u", its, "#msi-cells")).isEqualTo("1");
        assertThat(fdtget(blob, "-t", "x", its, "reg")).isEqualTo("0 8080000 0 20000");
        assertThat(fdtget(blob, "-t", "bx", its, "msi-controller")).isEmpty();
    }

    @Test
    void thePciHostIsAGenericEcamBridgeWithTheLayoutsWindowsAndItsMsisMappedToTheIts() throws Exception {
        byte[] blob = pciMachine(GIC_WITH_ITS);
        assertThat(fdtget(blob, "/pcie@3f000000", "compatible")).isEqualTo("pci-host-ecam-generic");
        assertThat(fdtget(blob, "-t", "x", "/pcie@3f000000", "reg")).isEqualTo("0 3f000000 0 1000000");
        assertThat(fdtget(blob, "-t", "u", "/pcie@3f000000", "bus-range")).isEqualTo("0 15");
        long m64 = LAYOUT.mmio64().base();
        assertThat(fdtget(blob, "-t", "x", "/pcie@3f000000", "ranges")).isEqualTo(String.format(
                "2000000 0 10000000 0 10000000 0 2f000000 3000000 %x %x %x %x 10 0",
                m64 >>> 32, m64 & 0xffff_ffffL, m64 >>> 32, m64 & 0xffff_ffffL));
        String itsPhandle = fdtget(blob, "-t", "u", "/interrupt-controller@8000000/msi-controller@8080000", "phandle");
        assertThat(fdtget(blob, "-t", "u", "/pcie@3f000000", "msi-map")).isEqualTo("0 " + itsPhandle + " 0 65536");
    }

    @Test
    void withoutAnItsThePciHostHasNoMsiMap() throws Exception {
        byte[] blob = pciMachine(GIC);
        Path dtb = Files.write(dir.resolve("noits.dtb"), blob);
        HostTools.Result r = HostTools.runSeparately(List.of("fdtget", dtb.toString(), "/pcie@3f000000", "msi-map"));
        assertThat(r.exit()).isNotZero();
        assertThat(r.err()).contains("FDT_ERR_NOTFOUND");
        assertThat(fdtget(blob, "-l", "/interrupt-controller@8000000")).isEmpty();
    }

    @Test
    void aPciHostWithX86ConfigPortsIsRefused() {
        List<PlatformDevice> devices = List.of(new PlatformDevice.PciHost(Aarch64Layout.PCI_ECAM, true));
        assertThatThrownBy(() -> MachineDeviceTree.build(new MachineDeviceTree.Contents(List.of(0L), LAYOUT, GIC_WITH_ITS, devices, "",
                Optional.empty()))).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no binding");
    }

    @Test
    void eachVcpuIsACpuNodeStartedThroughPsciByHvc() throws Exception {
        byte[] blob = twoVcpuMachine();
        assertThat(fdtget(blob, "-l", "/cpus")).isEqualTo("cpu@0\ncpu@1");
        assertThat(fdtget(blob, "/cpus/cpu@1", "enable-method")).isEqualTo("psci");
        assertThat(fdtget(blob, "-t", "x", "/cpus/cpu@1", "reg")).isEqualTo("1");
        assertThat(fdtget(blob, "/psci", "compatible")).isEqualTo("arm,psci-0.2");
        assertThat(fdtget(blob, "/psci", "method")).isEqualTo("hvc");
    }

    @Test
    void theTimerHasTheFourArchitectedPpis() throws Exception {
        assertThat(fdtget(twoVcpuMachine(), "-t", "u", "/timer", "interrupts")).isEqualTo("1 13 4 1 14 4 1 11 4 1 10 4");
    }

    @Test
    void theGicRegionsAreTheDistributorAndOneRedistributorPerVcpu() throws Exception {
        assertThat(fdtget(twoVcpuMachine(), "-t", "x", "/interrupt-controller@8000000", "reg"))
                .isEqualTo("0 8000000 0 10000 0 80a0000 0 40000");
    }

    @Test
    void theUartIsAPrimeCellWithItsSpiClocksAndTheConsolePath() throws Exception {
        byte[] blob = twoVcpuMachine();
        assertThat(fdtget(blob, "/serial@9000000", "compatible")).isEqualTo("arm,pl011 arm,primecell");
        assertThat(fdtget(blob, "-t", "u", "/serial@9000000", "interrupts")).isEqualTo("0 1 4");
        assertThat(fdtget(blob, "/serial@9000000", "clock-names")).isEqualTo("uartclk apb_pclk");
        assertThat(fdtget(blob, "/chosen", "stdout-path")).isEqualTo("/serial@9000000");
        assertThat(fdtget(blob, "/rtc@9010000", "compatible")).isEqualTo("arm,pl031 arm,primecell");
    }

    @Test
    void chosenHasTheCommandLineAndTheInitramfsRange() throws Exception {
        byte[] blob = twoVcpuMachine();
        assertThat(fdtget(blob, "/chosen", "bootargs")).isEqualTo("console=ttyAMA0 panic=-1");
        assertThat(fdtget(blob, "-t", "x", "/chosen", "linux,initrd-start")).isEqualTo("0 50000000");
        assertThat(fdtget(blob, "-t", "x", "/chosen", "linux,initrd-end")).isEqualTo("0 50012345");
    }

    @Test
    void memoryIsDescribedAtOneGib() throws Exception {
        assertThat(fdtget(twoVcpuMachine(), "-t", "x", "/memory@40000000", "reg")).isEqualTo("0 40000000 0 20000000");
    }

    @Test
    void aDeviceOnAnSpiTheGicLacksIsRefused() {
        List<PlatformDevice> devices = List.of(new PlatformDevice.SerialPort(PlatformDevice.SerialPort.Model.PL011, Aarch64Layout.UART, 64));
        assertThatThrownBy(() -> MachineDeviceTree.build(new MachineDeviceTree.Contents(List.of(0L), LAYOUT, GIC, devices, "",
                Optional.empty()))).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("SPI 64");
    }
}
