package dev.nimbus.vmm.devices;

import dev.nimbus.devices.pci.MsixCapability;
import dev.nimbus.devices.pci.PciRoot;
import dev.nimbus.devices.power.GenericEventDevice;
import dev.nimbus.devices.ps2.I8042Controller;
import dev.nimbus.devices.state.DeviceState;
import dev.nimbus.devices.state.DeviceStateException;
import dev.nimbus.devices.virtio.VirtioPciDevice;
import dev.nimbus.hypervisor.IoEventAddress;
import dev.nimbus.devices.serial.Serial16550;
import dev.nimbus.devices.state.Snapshottable;
import dev.nimbus.devices.interrupt.ioapic.Ioapic;
import dev.nimbus.hypervisor.GsiRoute;
import dev.nimbus.hypervisor.MsiMessage;
import dev.nimbus.hypervisor.arch.PlatformDevice;
import dev.nimbus.hypervisor.arch.PlatformDevice.SerialPort;
import dev.nimbus.vmm.config.ConfigException;
import dev.nimbus.vmm.config.ConsoleConfig;
import dev.nimbus.vmm.config.CpusConfig;
import dev.nimbus.vmm.config.DiskConfig;
import dev.nimbus.vmm.config.MemoryConfig;
import dev.nimbus.vmm.config.PayloadConfig;
import dev.nimbus.vmm.config.RngConfig;
import dev.nimbus.vmm.config.VmConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The device manager as the one owner of a machine's devices: what it puts on the buses is counted from the
 * start, what it lists for snapshots is every device that can save its state, and a build that fails part
 * way leaves nothing open on the host.
 */
class DeviceManagerTest {
    private static final int COM1 = 0x3f8;
    private static final SerialPort UART = new SerialPort(SerialPort.Model.UART_16550_PIO, COM1, 4);
    private static final PlatformDevice.AcpiGenericEventDevice GED = new PlatformDevice.AcpiGenericEventDevice(0xfeb0_0000L, 23);

    @TempDir
    Path dir;
    private DeviceBench bench;

    @BeforeEach
    void setUp() {
        bench = new DeviceBench();
    }

    @AfterEach
    void tearDown() {
        bench.close();
    }

    private VmConfig config(ConsoleConfig serial, ConsoleConfig console, List<DiskConfig> disks, Optional<RngConfig> rng) throws IOException, ConfigException {
        Path kernel = Files.writeString(dir.resolve("vmlinuz"), "kernel");
        return new VmConfig(new CpusConfig(1, 1), MemoryConfig.parse("size=32M"), PayloadConfig.of(kernel.toString(), null, ""),
                serial, console, disks, List.of(), rng);
    }

    private VmConfig quiet() throws IOException, ConfigException {
        return config(ConsoleConfig.of(ConsoleConfig.Mode.NULL), ConsoleConfig.of(ConsoleConfig.Mode.OFF), List.of(), Optional.empty());
    }

    private static ConsoleConfig file(Path path) {
        return new ConsoleConfig(ConsoleConfig.Mode.FILE, Optional.of(path));
    }

    /** How many of this process's descriptors are open on {@code file} (Linux: /proc/self/fd). */
    private static long openDescriptors(Path file) throws IOException {
        Path target = file.toRealPath();
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.filter(fd -> {
                try {
                    return Files.readSymbolicLink(fd).equals(target);
                } catch (IOException | UnsupportedOperationException e) {
                    return false; // closed while listing, or not a link
                }
            }).count();
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    @Test
    void devicesAreCountedFromTheMomentTheyAreOnTheBus() throws Exception {
        DeviceManager devices = bench.attach(quiet(), List.of(UART, DeviceBench.PCI_HOST));

        assertThat(devices.buses().pio().deviceAt(COM1)).isInstanceOf(CountingDevice.class);
        devices.buses().pio().write(COM1 + 7, 1, 0x5a); // scratch register
        devices.buses().pio().read(COM1 + 7, 1);

        assertThat(devices.counters().get("serial 16550A")).containsEntry("reads", 1L).containsEntry("writes", 1L);
        assertThat(devices.platformDevices(Serial16550.class).getFirst().read(7, 1)).as("the write reached the UART").isEqualTo(0x5a);
    }

    @Test
    void twoDevicesOfOneNameAreCountedApart() throws Exception {
        SerialPort com2 = new SerialPort(SerialPort.Model.UART_16550_PIO, 0x2f8, 3);
        DeviceManager devices = bench.attach(quiet(), List.of(UART, com2));

        devices.buses().pio().write(0x2f8 + 7, 1, 1);

        assertThat(devices.counters()).containsOnlyKeys("serial 16550A", "serial 16550A 2");
        assertThat(devices.counters().get("serial 16550A 2")).containsEntry("writes", 1L);
        assertThat(devices.counters().get("serial 16550A")).containsEntry("writes", 0L);
    }

    @Test
    void everyDeviceThatCanSaveItsStateIsListedInMachineOrder() throws Exception {
        DeviceManager devices = bench.attach(quiet(), List.of(UART, new PlatformDevice.I8042(0x60, 1), GED, DeviceBench.PCI_HOST));

        List<Snapshottable> listed = devices.snapshottable();

        assertThat(listed).containsExactly(devices.platformDevices(Serial16550.class).getFirst(),
                devices.platformDevices(I8042Controller.class).getFirst(), devices.platformDevices(GenericEventDevice.class).getFirst(),
                DeviceBench.root(devices));
        assertThat(listed).extracting(Snapshottable::stateId).containsExactly("serial-16550a", "i8042", "acpi-ged", "pci-bus0");
    }

    @Test
    void virtioFunctionsAreListedAfterThePlatformDevicesInSlotOrder() throws Exception {
        Path image = Files.write(dir.resolve("a.raw"), new byte[4096]);
        DeviceManager devices = bench.attach(config(ConsoleConfig.of(ConsoleConfig.Mode.NULL), ConsoleConfig.of(ConsoleConfig.Mode.OFF),
                List.of(DiskConfig.parse("path=" + image)), Optional.of(RngConfig.parse("src=/dev/urandom"))));

        assertThat(devices.snapshottable()).extracting(Snapshottable::stateId).containsExactly("pci-bus0", "virtio-pci", "virtio-pci");
        assertThat(devices.snapshottable().subList(1, 3)).containsExactlyElementsOf(
                devices.virtioFunctions().stream().map(VirtioFunction::device).toList());
    }

    private static final long ECAM = DeviceBench.ECAM.base();

    /** The guest's configuration write through ECAM (bus 0, function 0). */
    private static void configWrite(DeviceManager devices, int slot, int register, int size, long value) {
        devices.buses().mmio().write(ECAM + ((long) slot << 15) + register, size, value);
    }

    /**
     * A guest that moved the disk's BAR 0, enabled decoding and MSI-X and unmasked vector 0, on a machine
     * whose devices are then saved; a second machine from the same configuration takes the states.
     */
    @Test
    void aRestoredMachineHasTheBarWhereTheGuestPutItTheIoeventfdsThereAndTheVectorRouted() throws Exception {
        Path image = Files.write(dir.resolve("a.raw"), new byte[4096]);
        VmConfig config = config(ConsoleConfig.of(ConsoleConfig.Mode.NULL), ConsoleConfig.of(ConsoleConfig.Mode.OFF),
                List.of(DiskConfig.parse("path=" + image + ",readonly=on")), Optional.empty());
        DeviceManager saved = bench.attach(config);
        VirtioPciDevice disk = saved.virtioFunctions().getFirst().device();
        long bar = DeviceBench.MMIO32.base() + 0x0100_0000L;
        configWrite(saved, 1, 0x10, 4, bar);
        configWrite(saved, 1, 0x14, 4, 0);
        configWrite(saved, 1, 0x04, 2, 0x06); // memory decoding, bus master
        saved.buses().mmio().write(bar + VirtioPciDevice.MSIX_TABLE_OFFSET, 4, 0xfee0_0000L);
        saved.buses().mmio().write(bar + VirtioPciDevice.MSIX_TABLE_OFFSET + 8, 4, 0x4031);
        saved.buses().mmio().write(bar + VirtioPciDevice.MSIX_TABLE_OFFSET + 12, 4, 0);
        configWrite(saved, 1, disk.msix().offset() + 2, 2, MsixCapability.CONTROL_ENABLE);
        saved.pause(System.nanoTime() + 5_000_000_000L);
        List<DeviceState> states = saved.saveStates();

        try (DeviceBench other = new DeviceBench()) {
            DeviceManager fresh = other.create(config, List.of(DeviceBench.PCI_HOST));
            assertThat(other.vm.ioeventfds).isEmpty();

            fresh.restore(states);

            assertThat(other.vm.ioeventfds).containsExactly(IoEventAddress.mmio(bar + VirtioPciDevice.notifyOffset(0), 0));
            assertThat(other.vm.irqfdGsis).as("vector 0 routed before anything fires").hasSize(1);
            assertThat(other.vm.routing.getLast()).contains(new GsiRoute.Msi(other.vm.irqfdGsis.getFirst(),
                    new MsiMessage(0xfee0_0000L, 0x4031, -1)));
            assertThat(fresh.buses().mmio().read(bar + 0x14, 1)).as("the transport's status register, at the restored BAR")
                    .isEqualTo(disk.status());
            fresh.start();
            assertThat(fresh.saveStates()).isEqualTo(states);
        }
    }

    @Test
    void statesThatDoNotMatchTheMachinesDevicesAreRefusedBeforeAnyIsRestored() throws Exception {
        List<PlatformDevice> specs = List.of(UART, GED, DeviceBench.PCI_HOST);
        List<DeviceState> states = bench.attach(quiet(), specs).saveStates();
        DeviceManager fresh = bench.create(quiet(), specs);
        fresh.platformDevices(Serial16550.class).getFirst().write(7, 1, 0x5a); // scratch register, to see it untouched

        assertThatThrownBy(() -> fresh.restore(states.subList(0, 2))).isInstanceOf(DeviceStateException.class)
                .hasMessageContaining("2 states for 3 devices");
        assertThatThrownBy(() -> fresh.restore(List.of(states.get(1), states.get(0), states.get(2))))
                .isInstanceOf(DeviceStateException.class).hasMessageContaining("[acpi-ged, serial-16550a, pci-bus0]");
        assertThat(fresh.platformDevices(Serial16550.class).getFirst().read(7, 1)).isEqualTo(0x5a);
        fresh.restore(states);
        fresh.start();
        assertThatThrownBy(() -> fresh.restore(states)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void aFailureAfterFilesWereOpenedClosesThemAndReleasesTheImageLock() throws Exception {
        Path serialLog = dir.resolve("serial.log");
        Path consoleLog = dir.resolve("console.log");
        Path image = Files.write(dir.resolve("a.raw"), new byte[4096]);
        VmConfig config = config(file(serialLog), file(consoleLog), List.of(DiskConfig.parse("path=" + image)),
                Optional.of(RngConfig.parse("src=" + dir.resolve("missing"))));

        assertThatThrownBy(() -> bench.attach(config, List.of(UART, DeviceBench.PCI_HOST)))
                .isInstanceOf(ConfigException.class).hasMessage("--rng src: " + dir.resolve("missing") + ": no such file");

        assertThat(Files.exists(serialLog)).as("the serial port's file was opened before the failure").isTrue();
        assertThat(openDescriptors(serialLog)).isZero();
        assertThat(openDescriptors(image)).isZero();
        assertThat(bench.vm.irqfdGsis).isEmpty();
        assertThat(bench.vm.ioeventfds).isEmpty();
    }

    @Test
    void aBusConflictAmongPlatformDevicesClosesTheSerialFile() throws Exception {
        Path serialLog = dir.resolve("serial.log");
        VmConfig config = config(file(serialLog), ConsoleConfig.of(ConsoleConfig.Mode.OFF), List.of(), Optional.empty());

        assertThatThrownBy(() -> bench.attach(config, List.of(UART, UART))).hasMessageContaining("serial 16550A");

        assertThat(openDescriptors(serialLog)).isZero();
    }

    @Test
    void theWorkersRunUntilTheDevicesAreClosed() throws Exception {
        Path image = Files.write(dir.resolve("a.raw"), new byte[4096]);
        DeviceManager devices = bench.attach(config(ConsoleConfig.of(ConsoleConfig.Mode.NULL), ConsoleConfig.of(ConsoleConfig.Mode.OFF),
                List.of(DiskConfig.parse("path=" + image)), Optional.empty()));
        String worker = devices.virtioFunctions().getFirst().device().name() + " worker";
        assertThat(threadsNamed(worker)).isEqualTo(1);

        devices.pause(System.nanoTime() + 5_000_000_000L);
        devices.resume();
        devices.close();

        assertThat(threadsNamed(worker)).isZero();
        assertThat(openDescriptors(image)).isZero();
    }

    private static final PlatformDevice.Ioapic IOAPIC = new PlatformDevice.Ioapic(0xfec0_0000L, 2, 24);

    /** Writes IOAPIC register {@code index} through the MMIO bus, as the guest does. */
    private static void ioapicWrite(DeviceManager devices, int index, long value) {
        devices.buses().mmio().write(IOAPIC.base() + Ioapic.IOREGSEL, 4, index);
        devices.buses().mmio().write(IOAPIC.base() + Ioapic.IOWIN, 4, value);
    }

    @Test
    void withAUserspaceIoapicTheSerialInterruptIsAnMsiFromItsPin() throws Exception {
        try (DeviceBench split = new DeviceBench(true)) {
            DeviceManager devices = split.attach(quiet(), List.of(IOAPIC, UART, DeviceBench.PCI_HOST));
            ioapicWrite(devices, 0x11 + 2 * 4, 1L << 24);   // pin 4: APIC 1
            ioapicWrite(devices, 0x10 + 2 * 4, 0x24);       // vector 0x24, fixed, physical, edge, unmasked

            devices.buses().pio().write(COM1 + 1, 1, 0x02); // IER: THR empty interrupt on: the UART raises IRQ 4

            MsiMessage pin4 = MsiMessage.of(0xfee0_1000L, 0x24);
            assertThat(split.vm.msis).containsExactly(pin4);
            assertThat(split.vm.lines).as("no in-kernel line is driven").isEmpty();
            assertThat(split.vm.routing.getLast()).as("pin 4's message is GSI 4's route").containsExactly(new GsiRoute.Msi(4, pin4));
        }
    }

    @Test
    void aLevelPinStillAssertedAtItsEoiIsSentAgain() throws Exception {
        try (DeviceBench split = new DeviceBench(true)) {
            DeviceManager devices = split.attach(quiet(), List.of(IOAPIC, UART, DeviceBench.PCI_HOST));
            ioapicWrite(devices, 0x10 + 2 * 4, 0x31 | 1 << 15); // vector 0x31, level-triggered
            devices.buses().pio().write(COM1 + 1, 1, 0x02);     // the line goes high and stays high

            devices.endOfInterrupt(0x31);

            assertThat(split.vm.msis).hasSize(2).allSatisfy(m -> assertThat(m.data()).isEqualTo(0xc031));
        }
    }

    @Test
    void withoutAUserspaceIoapicLinesGoToTheHypervisorsIrqchip() throws Exception {
        DeviceManager devices = bench.attach(quiet(), List.of(UART, DeviceBench.PCI_HOST));
        devices.buses().pio().write(COM1 + 1, 1, 0x02);
        devices.endOfInterrupt(0x31); // nothing to end: no userspace IOAPIC

        assertThat(bench.vm.lines).containsExactly("4:1");
        assertThat(bench.vm.msis).isEmpty();
    }

    @Test
    void msiGsisStartAfterTheIoapicPins() {
        RecordingVm vm = new RecordingVm(true);
        assertThat(new MsiRoutes(vm, vm.chip, 24).allocate()).isEqualTo(24);
        assertThat(new MsiRoutes(vm, vm.chip, 0).allocate()).isZero();
        RecordingVm legacy = new RecordingVm();
        assertThat(new MsiRoutes(legacy, legacy.chip, 0).allocate()).as("after the chip's own line routes").isEqualTo(24);
    }

    private static long threadsNamed(String name) {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals(name) && t.isAlive()).count();
    }
}
