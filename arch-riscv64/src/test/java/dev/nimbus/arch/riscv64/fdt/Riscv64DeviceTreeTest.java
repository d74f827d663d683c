package dev.nimbus.arch.riscv64.fdt;

import dev.nimbus.arch.riscv64.Riscv64Layout;
import dev.nimbus.arch.riscv64.Riscv64Platform;
import dev.nimbus.arch.riscv64.hart.HartFeatures;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.arch.MachineLayout;
import dev.nimbus.hypervisor.arch.PlatformDevice;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.testsupport.Dtc;
import dev.nimbus.testsupport.HostTools;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The riscv64 device tree: dtc-clean, and saying what the bindings ask, read back with fdtget. */
class Riscv64DeviceTreeTest {
    private static final Riscv64Platform PLATFORM = new Riscv64Platform();
    private static final MachineLayout LAYOUT = Riscv64Layout.layout(512 * Riscv64Layout.MIB);
    private static final IrqChipConfig.Aia AIA = PLATFORM.interruptController(LAYOUT, 2);
    private static final HartFeatures HART = new HartFeatures("imafdc", List.of("sstc", "zicbom", "zicsr", "zifencei"), "riscv,sv48",
            10_000_000, OptionalInt.of(64), OptionalInt.empty());
    private static final HartFeatures OTHER_HART = new HartFeatures("imafdcv", List.of("zicsr", "zifencei"), "riscv,sv48",
            10_000_000, OptionalInt.empty(), OptionalInt.empty());

    @TempDir
    Path dir;

    @BeforeAll
    static void dtc() {
        Dtc.ensure();
    }

    private static byte[] twoHarts() {
        return Riscv64DeviceTree.build(new Riscv64DeviceTree.Contents(List.of(HART, OTHER_HART), LAYOUT, AIA,
                PLATFORM.platformDevices(LAYOUT), "console=ttyS0 panic=-1", Optional.of(new AddressRange(0x9e00_0000L, 0x12345))));
    }

    private String fdtget(byte[] blob, String... args) throws Exception {
        Path dtb = Files.write(dir.resolve("get.dtb"), blob);
        List<String> command = new ArrayList<>(List.of("fdtget", dtb.toString()));
        command.addAll(List.of(args));
        HostTools.Result r = HostTools.runSeparately(command);
        assertThat(r.exit()).as(String.join(" ", command) + ": " + r.err()).isZero();
        return r.out().strip();
    }

    @Test
    void theMachineTreeDecompilesWithoutErrorsOrWarningsAndRecompilesToTheSameBytes() throws Exception {
        byte[] blob = twoHarts();
        HostTools.Result r = Dtc.decompile(dir, blob);
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.err()).as("dtc's warnings").isEmpty();
        assertThat(Dtc.recompile(dir, r.out())).as("dtc's compilation of the decompiled source").isEqualTo(blob);
    }

    @Test
    void eachHartHasItsOwnIsaAsItsVcpuReportedIt() throws Exception {
        byte[] blob = twoHarts();
        assertThat(fdtget(blob, "/cpus/cpu@0", "riscv,isa")).isEqualTo("rv64imafdc_sstc_zicbom_zicsr_zifencei");
        assertThat(fdtget(blob, "/cpus/cpu@1", "riscv,isa")).isEqualTo("rv64imafdcv_zicsr_zifencei");
        assertThat(fdtget(blob, "/cpus/cpu@0", "riscv,isa-base")).isEqualTo("rv64i");
        assertThat(fdtget(blob, "/cpus/cpu@0", "riscv,isa-extensions")).isEqualTo("i m a f d c sstc zicbom zicsr zifencei");
        assertThat(fdtget(blob, "/cpus/cpu@0", "mmu-type")).isEqualTo("riscv,sv48");
        assertThat(fdtget(blob, "/cpus/cpu@0", "riscv,cbom-block-size")).isEqualTo("64");
        assertThat(fdtget(blob, "/cpus/cpu@1", "reg")).isEqualTo("1");
        assertThat(fdtget(blob, "/cpus", "timebase-frequency")).isEqualTo("10000000");
        assertThat(fdtget(blob, "/cpus/cpu@1/interrupt-controller", "compatible")).isEqualTo("riscv,cpu-intc");
    }

    @Test
    void theImsicSignalsEachHartsSupervisorExternalInterrupt() throws Exception {
        byte[] blob = twoHarts();
        String imsic = "/interrupt-controller@28000000";
        assertThat(fdtget(blob, imsic, "compatible")).isEqualTo("riscv,imsics");
        assertThat(fdtget(blob, "-t", "x", imsic, "reg")).isEqualTo("0 28000000 0 2000");
        int intc0 = Integer.parseInt(fdtget(blob, "/cpus/cpu@0/interrupt-controller", "phandle"));
        int intc1 = Integer.parseInt(fdtget(blob, "/cpus/cpu@1/interrupt-controller", "phandle"));
        assertThat(fdtget(blob, imsic, "interrupts-extended")).isEqualTo(intc0 + " 9 " + intc1 + " 9");
        assertThat(fdtget(blob, imsic, "riscv,num-ids")).isEqualTo("255");
    }

    @Test
    void theAplicAndThePciHostSendTheirMsisToTheImsic() throws Exception {
        byte[] blob = twoHarts();
        String imsic = fdtget(blob, "/interrupt-controller@28000000", "phandle");
        String aplic = "/interrupt-controller@d000000";
        assertThat(fdtget(blob, aplic, "compatible")).isEqualTo("riscv,aplic");
        assertThat(fdtget(blob, aplic, "msi-parent")).isEqualTo(imsic);
        assertThat(fdtget(blob, aplic, "riscv,num-sources")).isEqualTo("96");
        assertThat(fdtget(blob, "/pcie@30000000", "compatible")).isEqualTo("pci-host-ecam-generic");
        assertThat(fdtget(blob, "/pcie@30000000", "msi-parent")).isEqualTo(imsic);
    }

    @Test
    void eachHartsControllerIsARootAndTheWiredDevicesNameTheAplic() throws Exception {
        byte[] blob = twoHarts();
        // Linux's of_irq_init starts from controllers without a parent; an interrupt-parent on "/" would be
        // inherited by the harts' controllers ("No interrupt controller found", found in the riscv64 L1)
        for (String node : List.of("/", "/cpus", "/cpus/cpu@0", "/cpus/cpu@0/interrupt-controller")) {
            assertThat(fdtget(blob, "-p", node).lines()).as(node + "'s properties").doesNotContain("interrupt-parent");
        }
        String aplic = fdtget(blob, "/interrupt-controller@d000000", "phandle");
        assertThat(fdtget(blob, "/serial@10000000", "interrupt-parent")).isEqualTo(aplic);
        assertThat(fdtget(blob, "/rtc@101000", "interrupt-parent")).isEqualTo(aplic);
    }

    @Test
    void theUartAndRtcSitOnTheirAplicSources() throws Exception {
        byte[] blob = twoHarts();
        assertThat(fdtget(blob, "/serial@10000000", "compatible")).isEqualTo("ns16550a");
        assertThat(fdtget(blob, "/serial@10000000", "interrupts")).isEqualTo("10 4");
        assertThat(fdtget(blob, "/serial@10000000", "reg-shift")).isEqualTo("0");
        assertThat(fdtget(blob, "/rtc@101000", "compatible")).isEqualTo("google,goldfish-rtc");
        assertThat(fdtget(blob, "/rtc@101000", "interrupts")).isEqualTo("11 4");
    }

    @Test
    void chosenHasTheCommandLineTheConsoleAndTheInitramfs() throws Exception {
        byte[] blob = twoHarts();
        assertThat(fdtget(blob, "/chosen", "bootargs")).isEqualTo("console=ttyS0 panic=-1");
        assertThat(fdtget(blob, "/chosen", "stdout-path")).isEqualTo("/serial@10000000");
        assertThat(fdtget(blob, "-t", "x", "/chosen", "linux,initrd-start")).isEqualTo("0 9e000000");
        assertThat(fdtget(blob, "-t", "x", "/chosen", "linux,initrd-end")).isEqualTo("0 9e012345");
        assertThat(fdtget(blob, "-t", "x", "/memory@80000000", "reg")).isEqualTo("0 80000000 0 20000000");
    }

    @Test
    void hartsThatDisagreeOnTheTimebaseAreRefused() {
        HartFeatures slow = new HartFeatures("imafdc", List.of(), "riscv,sv39", 1_000_000, OptionalInt.empty(), OptionalInt.empty());
        assertThatThrownBy(() -> Riscv64DeviceTree.build(new Riscv64DeviceTree.Contents(List.of(HART, slow), LAYOUT, AIA, List.of(), "",
                Optional.empty()))).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("hart 1's timebase is 1000000 Hz");
    }

    @Test
    void aDeviceWithoutARiscvBindingIsRefused() {
        List<PlatformDevice> pl011 = List.of(new PlatformDevice.SerialPort(PlatformDevice.SerialPort.Model.PL011, 0x0900_0000L, 1));
        assertThatThrownBy(() -> Riscv64DeviceTree.build(new Riscv64DeviceTree.Contents(List.of(HART), LAYOUT, AIA, pl011, "",
                Optional.empty()))).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no binding");
    }
}
