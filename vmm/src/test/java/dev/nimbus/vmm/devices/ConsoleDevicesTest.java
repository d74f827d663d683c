package dev.nimbus.vmm.devices;

import dev.nimbus.devices.bus.BusDevice;
import dev.nimbus.devices.pci.PciConfigSpace;
import dev.nimbus.devices.pci.PciRoot;
import dev.nimbus.devices.virtio.VirtioPciDevice;
import dev.nimbus.devices.virtio.console.VirtioConsole;
import dev.nimbus.vmm.config.ConfigException;
import dev.nimbus.vmm.config.ConsoleConfig;
import dev.nimbus.vmm.config.CpusConfig;
import dev.nimbus.vmm.config.MemoryConfig;
import dev.nimbus.vmm.config.PayloadConfig;
import dev.nimbus.vmm.config.VmConfig;
import dev.nimbus.vmm.machine.MachineBuilder;
import dev.nimbus.vmm.machine.ScriptedBackend;
import dev.nimbus.vmm.machine.ScriptedPlatform;
import dev.nimbus.vmm.machine.TestMachines;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@code --console}: a virtio console on the PCI root whose output goes where the option says, and at most
 * one of {@code --serial} and {@code --console} on the terminal (Cloud Hypervisor refuses both as well).
 */
class ConsoleDevicesTest {
    @TempDir
    Path dir;
    private DeviceBench bench;
    private PciRoot root;

    @BeforeEach
    void setUp() {
        bench = new DeviceBench();
    }

    @AfterEach
    void tearDown() {
        bench.close();
    }

    private VmConfig config(ConsoleConfig serial, ConsoleConfig console) throws Exception {
        Path kernel = Files.writeString(dir.resolve("vmlinuz"), "kernel");
        return new VmConfig(new CpusConfig(1, 1), MemoryConfig.parse("size=32M"), PayloadConfig.of(kernel.toString(), null, ""),
                serial, console);
    }

    private DeviceManager attach(ConsoleConfig console) throws Exception {
        DeviceManager devices = bench.attach(config(ConsoleConfig.of(ConsoleConfig.Mode.NULL), console));
        root = DeviceBench.root(devices);
        return devices;
    }

    @Test
    void consoleFileIsAVirtioConsoleFunctionWritingThatFile() throws Exception {
        Path log = dir.resolve("console.log");
        DeviceManager wired = attach(new ConsoleConfig(ConsoleConfig.Mode.FILE, Optional.of(log)));

        assertThat(wired.virtioFunctions()).extracting(VirtioFunction::id).containsExactly("_console");
        assertThat(root.configRead(0, 1, 0, PciConfigSpace.DEVICE_ID, 2)).isEqualTo(0x1043L);
        BusDevice bar = wired.virtioFunctions().getFirst().device().bars().getFirst().region();
        bar.write(VirtioPciDevice.DEVICE_CONFIG_OFFSET + VirtioConsole.CONFIG_EMERG_WR, 4, 'N'); // emerg_wr: one byte out
        bar.write(VirtioPciDevice.DEVICE_CONFIG_OFFSET + VirtioConsole.CONFIG_EMERG_WR, 4, '\n');
        wired.close(); // flushes and closes the file

        assertThat(Files.readString(log, StandardCharsets.US_ASCII)).isEqualTo("N\n");
    }

    @Test
    void serialOnAPtyCarriesTheGuestsOutputAndTheUsersInput() throws Exception {
        int com1 = 0x3f8;
        DeviceManager devices = bench.attach(config(ConsoleConfig.of(ConsoleConfig.Mode.PTY), ConsoleConfig.of(ConsoleConfig.Mode.OFF)),
                java.util.List.of(new dev.nimbus.hypervisor.arch.PlatformDevice.SerialPort(
                        dev.nimbus.hypervisor.arch.PlatformDevice.SerialPort.Model.UART_16550_PIO, com1, 4)));
        Path pty = devices.serialPty().orElseThrow();
        assertThat(devices.consolePty()).isEmpty();
        try (java.io.FileInputStream user = new java.io.FileInputStream(pty.toFile());
             java.io.FileOutputStream keyboard = new java.io.FileOutputStream(pty.toFile())) {
            devices.buses().pio().write(com1, 1, 'H'); // the guest writes THR
            devices.buses().pio().write(com1, 1, 'i');
            assertThat(new String(user.readNBytes(2), StandardCharsets.US_ASCII)).isEqualTo("Hi");

            keyboard.write('x');
            long deadline = System.nanoTime() + 10_000_000_000L;
            while ((devices.buses().pio().read(com1 + 5, 1) & 1) == 0 && System.nanoTime() < deadline) {
                Thread.sleep(5); // LSR.DR: the byte typed has reached the receive FIFO
            }
            assertThat(devices.buses().pio().read(com1, 1)).as("RBR").isEqualTo('x');
        }
        devices.close();
        assertThat(Files.exists(pty)).as("the pty is gone with the machine").isFalse();
    }

    @Test
    void serialOnASocketServesTheClientThatConnectsAndIsGoneWithTheMachine() throws Exception {
        int com1 = 0x3f8;
        Path socket = dir.resolve("serial.sock");
        DeviceManager devices = bench.attach(config(new ConsoleConfig(ConsoleConfig.Mode.SOCKET, Optional.empty(), Optional.of(socket)),
                ConsoleConfig.of(ConsoleConfig.Mode.OFF)), java.util.List.of(new dev.nimbus.hypervisor.arch.PlatformDevice.SerialPort(
                dev.nimbus.hypervisor.arch.PlatformDevice.SerialPort.Model.UART_16550_PIO, com1, 4)));
        assertThat(java.nio.file.Files.getPosixFilePermissions(socket)).containsExactlyInAnyOrder(
                java.nio.file.attribute.PosixFilePermission.OWNER_READ, java.nio.file.attribute.PosixFilePermission.OWNER_WRITE);
        devices.buses().pio().write(com1, 1, '?'); // before any client: dropped, the guest is not held
        try (java.nio.channels.SocketChannel client = java.nio.channels.SocketChannel.open(java.net.UnixDomainSocketAddress.of(socket))) {
            long deadline = System.nanoTime() + 10_000_000_000L;
            java.nio.ByteBuffer got = java.nio.ByteBuffer.allocate(2);
            while (got.hasRemaining() && System.nanoTime() < deadline) {
                devices.buses().pio().write(com1, 1, got.position() == 0 ? 'H' : 'i');
                client.configureBlocking(false);
                client.read(got);
                Thread.sleep(20);
            }
            assertThat(new String(got.array(), 0, got.position(), StandardCharsets.US_ASCII)).startsWith("H");
            client.configureBlocking(true);
            client.write(java.nio.ByteBuffer.wrap(new byte[] {'x'}));
            while ((devices.buses().pio().read(com1 + 5, 1) & 1) == 0 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertThat(devices.buses().pio().read(com1, 1)).as("RBR").isEqualTo('x');
        }
        devices.close();
        assertThat(Files.exists(socket)).as("the socket is removed with the machine").isFalse();
    }

    @Test
    void theVirtioConsoleOnAPtyHasItsOwn() throws Exception {
        DeviceManager wired = attach(ConsoleConfig.of(ConsoleConfig.Mode.PTY));
        Path pty = wired.consolePty().orElseThrow();
        try (java.io.FileInputStream user = new java.io.FileInputStream(pty.toFile())) {
            BusDevice bar = wired.virtioFunctions().getFirst().device().bars().getFirst().region();
            bar.write(VirtioPciDevice.DEVICE_CONFIG_OFFSET + VirtioConsole.CONFIG_EMERG_WR, 4, 'N');
            assertThat(user.read()).isEqualTo('N');
        }
    }

    @Test
    void consoleOffAddsNoFunction() throws Exception {
        DeviceManager wired = attach(ConsoleConfig.of(ConsoleConfig.Mode.OFF));

        assertThat(wired.virtioFunctions()).isEmpty();
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
        DeviceManager wired = attach(ConsoleConfig.of(ConsoleConfig.Mode.NULL));
        VirtioConsole console = (VirtioConsole) wired.virtioFunctions().getFirst().device().device();
        console.receive(new byte[] {'a'}, 0, 1);

        wired.close();

        assertThatCode(() -> console.receive(new byte[] {'b'}, 0, 1)).doesNotThrowAnyException();
    }
}
