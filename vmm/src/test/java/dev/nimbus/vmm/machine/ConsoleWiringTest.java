package dev.nimbus.vmm.machine;

import dev.nimbus.vmm.console.HostTerminal;
import dev.nimbus.devices.bus.Buses;
import dev.nimbus.devices.bus.BusDevice;
import dev.nimbus.devices.pci.PciBarAllocator;
import dev.nimbus.devices.pci.PciConfigSpace;
import dev.nimbus.devices.pci.PciRoot;
import dev.nimbus.devices.platform.CreatedDevice;
import dev.nimbus.devices.virtio.VirtioPciDevice;
import dev.nimbus.devices.virtio.console.VirtioConsole;
import dev.nimbus.hypervisor.IrqChip;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.Vm;
import dev.nimbus.hypervisor.VmOptions;
import dev.nimbus.hypervisor.arch.PlatformDevice;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;
import dev.nimbus.vmm.config.ConfigException;
import dev.nimbus.vmm.config.ConsoleConfig;
import dev.nimbus.vmm.config.CpusConfig;
import dev.nimbus.vmm.config.MemoryConfig;
import dev.nimbus.vmm.config.PayloadConfig;
import dev.nimbus.vmm.config.VmConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@code --console}: a virtio console on the PCI root whose output goes where the option says, and at most
 * one of {@code --serial} and {@code --console} on the terminal (Cloud Hypervisor refuses both as well).
 */
class ConsoleWiringTest {
    @TempDir
    Path dir;
    private GuestMemory memory;
    private Vm vm;
    private IrqChip chip;
    private PciRoot root;
    private List<CreatedDevice> platform;
    private final List<AutoCloseable> toClose = new ArrayList<>();

    @BeforeEach
    void setUp() {
        memory = GuestMemory.allocate(List.of(new AddressRange(0, 1 << 20)));
        vm = new ScriptedBackend().createVm(new VmOptions(0));
        chip = vm.createIrqChip(new IrqChipConfig.X86Legacy(0, 0, false));
        root = new PciRoot(new Buses().mmio(), new PciBarAllocator(new AddressRange(0xc000_0000L, 0x1000_0000L),
                new AddressRange(1L << 36, 1L << 30)), PciRoot.BarListener.NONE);
        platform = List.of(new CreatedDevice(new PlatformDevice.PciHost(new AddressRange(0xe000_0000L, 1 << 20), true), root, List.of()));
    }

    @AfterEach
    void tearDown() {
        PlatformDeviceWiring.closeAll(toClose);
        memory.close();
    }

    private VmConfig config(ConsoleConfig serial, ConsoleConfig console) throws Exception {
        Path kernel = Files.writeString(dir.resolve("vmlinuz"), "kernel");
        return new VmConfig(new CpusConfig(1, 1), MemoryConfig.parse("size=32M"), PayloadConfig.of(kernel.toString(), null, ""),
                serial, console);
    }

    private VirtioWiring.Wired attach(ConsoleConfig console) throws Exception {
        VirtioWiring.Wired wired = new VirtioWiring(new HostTerminal()).attach(config(ConsoleConfig.of(ConsoleConfig.Mode.NULL), console),
                platform, memory, vm, chip);
        toClose.addAll(wired.resources());
        return wired;
    }

    @Test
    void consoleFileIsAVirtioConsoleFunctionWritingThatFile() throws Exception {
        Path log = dir.resolve("console.log");
        VirtioWiring.Wired wired = attach(new ConsoleConfig(ConsoleConfig.Mode.FILE, Optional.of(log)));

        assertThat(wired.devices()).extracting(VirtioWiring.Attached::id).containsExactly("_console");
        assertThat(root.configRead(0, 1, 0, PciConfigSpace.DEVICE_ID, 2)).isEqualTo(0x1043L);
        BusDevice bar = wired.devices().getFirst().device().bars().getFirst().region();
        bar.write(VirtioPciDevice.DEVICE_CONFIG_OFFSET + VirtioConsole.CONFIG_EMERG_WR, 4, 'N'); // emerg_wr: one byte out
        bar.write(VirtioPciDevice.DEVICE_CONFIG_OFFSET + VirtioConsole.CONFIG_EMERG_WR, 4, '\n');
        PlatformDeviceWiring.closeAll(wired.resources()); // flushes and closes the file

        assertThat(Files.readString(log, StandardCharsets.US_ASCII)).isEqualTo("N\n");
    }

    @Test
    void consoleOffAddsNoFunction() throws Exception {
        VirtioWiring.Wired wired = attach(ConsoleConfig.of(ConsoleConfig.Mode.OFF));

        assertThat(wired.devices()).isEmpty();
        assertThat(root.configRead(0, 1, 0, PciConfigSpace.VENDOR_ID, 2)).isEqualTo(0xffffL);
    }

    @Test
    void consoleFileThatCannotBeWrittenIsRefusedByName() {
        Path nowhere = dir.resolve("no-such-dir").resolve("console.log");
        assertThatThrownBy(() -> attach(new ConsoleConfig(ConsoleConfig.Mode.FILE, Optional.of(nowhere))))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("--console file: cannot write " + nowhere);
    }

    /** The receive queue's eventfd is closed with the machine; input arriving afterwards must not reach it. */
    @Test
    void inputAfterTheMachineIsReleasedIsHarmless() throws Exception {
        VirtioWiring.Wired wired = attach(ConsoleConfig.of(ConsoleConfig.Mode.NULL));
        VirtioConsole console = (VirtioConsole) wired.devices().getFirst().device().device();
        console.receive(new byte[] {'a'}, 0, 1);

        PlatformDeviceWiring.closeAll(wired.resources());

        assertThatCode(() -> console.receive(new byte[] {'b'}, 0, 1)).doesNotThrowAnyException();
    }
}
