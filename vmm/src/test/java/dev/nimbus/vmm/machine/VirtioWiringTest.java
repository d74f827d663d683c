package dev.nimbus.vmm.machine;

import dev.nimbus.vmm.console.HostTerminal;
import dev.nimbus.devices.bus.Buses;
import dev.nimbus.devices.pci.PciBarAllocator;
import dev.nimbus.devices.pci.PciConfigSpace;
import dev.nimbus.devices.pci.PciRoot;
import dev.nimbus.devices.platform.CreatedDevice;
import dev.nimbus.devices.virtio.VirtioPciDevice;
import dev.nimbus.devices.virtio.net.VirtioNet;
import dev.nimbus.hypervisor.Arch;
import dev.nimbus.hypervisor.GsiRoute;
import dev.nimbus.hypervisor.IoEventAddress;
import dev.nimbus.hypervisor.IrqChip;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.MsiMessage;
import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.Vm;
import dev.nimbus.hypervisor.arch.PlatformDevice;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;
import dev.nimbus.hypervisor.memory.MemoryRegion;
import dev.nimbus.host.EventFd;
import dev.nimbus.vmm.config.ConfigException;
import dev.nimbus.vmm.config.ConsoleConfig;
import dev.nimbus.vmm.config.CpusConfig;
import dev.nimbus.vmm.config.DiskConfig;
import dev.nimbus.vmm.config.MemoryConfig;
import dev.nimbus.vmm.config.NetConfig;
import dev.nimbus.vmm.config.PayloadConfig;
import dev.nimbus.vmm.config.RngConfig;
import dev.nimbus.vmm.config.VmConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.net.InetSocketAddress;
import java.nio.channels.DatagramChannel;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The VMM side of virtio over PCI with a recording VM: devices land on the PCI root, ioeventfds follow
 * BAR 0, MSI-X vectors become GSI routes above the chip's own lines with an irqfd each, and host files that
 * cannot be used are refused with the option's name, releasing what was already opened.
 */
class VirtioWiringTest {
    private static final AddressRange MMIO32 = new AddressRange(0xc000_0000L, 0x1000_0000L);
    private static final List<GsiRoute> LINES = List.of(new GsiRoute.IrqchipPin(0, 2, 0), new GsiRoute.IrqchipPin(23, 2, 23));

    @TempDir
    Path dir;
    private GuestMemory memory;
    private RecordingVm vm;
    private PciRoot root;
    private List<CreatedDevice> platform;
    private final List<AutoCloseable> toClose = new ArrayList<>();

    @BeforeEach
    void setUp() {
        memory = GuestMemory.allocate(List.of(new AddressRange(0, 1 << 20)));
        vm = new RecordingVm();
        root = new PciRoot(new Buses().mmio(), new PciBarAllocator(MMIO32, new AddressRange(1L << 36, 1L << 30)), PciRoot.BarListener.NONE);
        PlatformDevice.PciHost spec = new PlatformDevice.PciHost(new AddressRange(0xe000_0000L, 1 << 20), true);
        platform = List.of(new CreatedDevice(spec, root, List.of()));
    }

    @AfterEach
    void tearDown() {
        PlatformDeviceWiring.closeAll(toClose);
        memory.close();
    }

    private VmConfig config(List<DiskConfig> disks, Optional<RngConfig> rng) throws Exception {
        Path kernel = Files.writeString(dir.resolve("vmlinuz"), "kernel");
        return new VmConfig(new CpusConfig(1, 1), MemoryConfig.parse("size=32M"), PayloadConfig.of(kernel.toString(), null, ""),
                ConsoleConfig.of(ConsoleConfig.Mode.OFF), ConsoleConfig.of(ConsoleConfig.Mode.OFF), disks, List.of(), rng);
    }

    private Path image(String name, int bytes) throws Exception {
        return Files.write(dir.resolve(name), new byte[bytes]);
    }

    private VirtioWiring.Wired attach(VmConfig config) throws ConfigException {
        VirtioWiring.Wired wired = new VirtioWiring(new HostTerminal()).attach(config, platform, memory, vm, vm.chip);
        toClose.addAll(wired.resources());
        return wired;
    }

    @Test
    void disksAndRngBecomeVirtioFunctionsAfterTheHostBridge() throws Exception {
        VirtioWiring.Wired wired = attach(config(List.of(DiskConfig.parse("path=" + image("a.raw", 1 << 20)),
                DiskConfig.parse("path=" + image("b.raw", 4096) + ",readonly=on,id=data")), Optional.of(RngConfig.parse("src=/dev/urandom"))));

        assertThat(wired.devices()).extracting(VirtioWiring.Attached::id).containsExactly("_disk0", "data", "_rng");
        assertThat(root.configRead(0, 1, 0, PciConfigSpace.DEVICE_ID, 2)).isEqualTo(0x1042L);
        assertThat(root.configRead(0, 2, 0, PciConfigSpace.DEVICE_ID, 2)).isEqualTo(0x1042L);
        assertThat(root.configRead(0, 3, 0, PciConfigSpace.DEVICE_ID, 2)).isEqualTo(0x1044L);
        assertThat(root.configRead(0, 4, 0, PciConfigSpace.VENDOR_ID, 2)).isEqualTo(0xffffL);
        assertThat(wired.devices().getFirst().counters()).containsEntry("read_bytes", 0L).containsEntry("write_ops", 0L);
    }

    @Test
    void queueNotificationsFollowBarZeroWhileMemoryDecodingIsOn() throws Exception {
        attach(config(List.of(DiskConfig.parse("path=" + image("a.raw", 4096))), Optional.empty()));
        long bar = root.configRead(0, 1, 0, PciConfigSpace.BAR0, 4) & ~0xfL | root.configRead(0, 1, 0, PciConfigSpace.BAR0 + 4, 4) << 32;
        assertThat(vm.ioeventfds).isEmpty();

        root.configWrite(0, 1, 0, PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_MEMORY);
        assertThat(vm.ioeventfds).containsExactly(IoEventAddress.mmio(bar + VirtioPciDevice.notifyOffset(0), 0));

        long moved = MMIO32.base() + 0x10_0000;
        root.configWrite(0, 1, 0, PciConfigSpace.BAR0, 4, moved);
        root.configWrite(0, 1, 0, PciConfigSpace.BAR0 + 4, 4, 0);
        assertThat(vm.ioeventfds).containsExactly(IoEventAddress.mmio(moved + VirtioPciDevice.notifyOffset(0), 0));

        root.configWrite(0, 1, 0, PciConfigSpace.COMMAND, 2, 0);
        assertThat(vm.ioeventfds).isEmpty();
    }

    @Test
    void msixVectorsGetGsisAboveTheChipsLinesAndAnIrqfdEach() throws Exception {
        VirtioWiring.Wired wired = attach(config(List.of(DiskConfig.parse("path=" + image("a.raw", 4096))), Optional.empty()));
        VirtioPciDevice pci = wired.devices().getFirst().device();
        MsiMessage first = MsiMessage.of(0xfee0_0000L, 0x41);
        MsiMessage second = MsiMessage.of(0xfee0_1000L, 0x42);

        pci.msix().writeTable(0, 4, first.address());
        pci.msix().writeTable(8, 4, first.data());
        pci.msix().writeTable(12, 4, 0); // unmask vector 0
        root.configWrite(0, 1, 0, pci.msix().offset() + 2, 2, 1 << 15); // MSI-X enable
        pci.msix().signal(0); // the route is made when the vector first fires after (re)programming

        assertThat(vm.routing.getLast()).containsExactly(LINES.get(0), LINES.get(1), new GsiRoute.Msi(24, first));
        assertThat(vm.irqfdGsis).containsExactly(24);

        pci.msix().writeTable(12, 4, 1);
        pci.msix().writeTable(8, 4, second.data());
        pci.msix().writeTable(0, 4, second.address());
        pci.msix().writeTable(12, 4, 0);
        pci.msix().signal(0);
        assertThat(vm.routing.getLast()).containsExactly(LINES.get(0), LINES.get(1), new GsiRoute.Msi(24, second));
        assertThat(vm.irqfdGsis).containsExactly(24);
    }

    @Test
    void imagesThatCannotBeUsedAreRefusedByNameAndNothingStaysOpen() throws Exception {
        Path good = image("good.raw", 4096);
        assertThatThrownBy(() -> attach(config(List.of(DiskConfig.parse("path=" + good), DiskConfig.parse("path=" + dir.resolve("missing.raw"))), Optional.empty())))
                .isInstanceOf(ConfigException.class).hasMessage("--disk path=" + dir.resolve("missing.raw") + ": no such file");
        try (FileChannel again = FileChannel.open(good, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            assertThat(again.tryLock()).as("the first disk's lock was released").isNotNull();
        }
        assertThatThrownBy(() -> attach(config(List.of(DiskConfig.parse("path=" + dir)), Optional.empty())))
                .hasMessage("--disk path=" + dir + ": is a directory, not a disk image");
        assertThatThrownBy(() -> attach(config(List.of(DiskConfig.parse("path=" + good), DiskConfig.parse("path=" + good)), Optional.empty())))
                .hasMessage("--disk path=" + good + ": the image is in use by another process or disk");
        assertThatThrownBy(() -> attach(config(List.of(DiskConfig.parse("path=" + good + ",num_queues=2")), Optional.empty())))
                .hasMessageStartingWith("--disk num_queues: 2 queues are not supported yet");
        assertThatThrownBy(() -> attach(config(List.of(), Optional.of(RngConfig.parse("src=" + dir.resolve("nope"))))))
                .hasMessage("--rng src=" + dir.resolve("nope") + ": no such file");
    }

    private VmConfig netConfig(String net) throws Exception {
        Path kernel = Files.writeString(dir.resolve("vmlinuz"), "kernel");
        return new VmConfig(new CpusConfig(1, 1), MemoryConfig.parse("size=32M"), PayloadConfig.of(kernel.toString(), null, ""),
                ConsoleConfig.of(ConsoleConfig.Mode.OFF), ConsoleConfig.of(ConsoleConfig.Mode.OFF), List.of(),
                List.of(NetConfig.parse(net)), Optional.empty());
    }

    @Test
    void netOptionsTheDeviceCannotHonourAreRefusedBeforeATapIsMade() throws Exception {
        assertThatThrownBy(() -> attach(netConfig("tap=t0,num_queues=4")))
                .isInstanceOf(ConfigException.class).hasMessageStartingWith("--net num_queues: 4 needs multiqueue");
        assertThatThrownBy(() -> attach(netConfig("tap=t0,host_mac=12:34:56:78:9a:bc"))).hasMessageStartingWith("--net host_mac: not supported yet");
        assertThatThrownBy(() -> attach(netConfig("tap=t0,mtu=9000"))).hasMessageStartingWith("--net mtu: not supported yet");
        assertThatThrownBy(() -> attach(netConfig("tap=t0,mask=255.255.0.0"))).hasMessageStartingWith("--net mask: needs ip");
    }

    /**
     * A real tap, made in a network namespace private to one thread of this test ({@code unshare}), which
     * is where the wiring runs; under CI=true a host that cannot give one fails the test.
     */
    @Test
    void netBecomesAVirtioNetFunctionOnATapWithTheGivenMac() throws Exception {
        ExecutorService netns = Executors.newSingleThreadExecutor(r -> Thread.ofPlatform().daemon().unstarted(r));
        try {
            String unavailable = netns.submit(VirtioWiringTest::enterPrivateNetworkNamespace).get();
            if (unavailable != null) {
                if ("true".equals(System.getenv("CI"))) {
                    org.junit.jupiter.api.Assertions.fail("--net wiring needs a tap in a private network namespace: " + unavailable);
                }
                org.junit.jupiter.api.Assumptions.abort(unavailable);
            }
            VmConfig config = netConfig("tap=nimbus%d,ip=10.79.0.1,mask=255.255.255.0,mac=12:34:56:78:9a:bc,id=lan");
            VirtioWiring.Wired wired = netns.submit(() -> attach(config)).get();

            assertThat(wired.devices()).extracting(VirtioWiring.Attached::id).containsExactly("lan");
            assertThat(root.configRead(0, 1, 0, PciConfigSpace.DEVICE_ID, 2)).isEqualTo(0x1041L);
            VirtioNet net = (VirtioNet) wired.devices().getFirst().device().device();
            assertThat(net.mac()).containsExactly(0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc);
            assertThat(wired.devices().getFirst().counters()).containsEntry("rx_frames", 0L).containsEntry("tx_bytes", 0L);
            // the host address is on the tap: a socket of that namespace can bind to it
            netns.submit(() -> {
                try (DatagramChannel udp = DatagramChannel.open()) {
                    udp.bind(new InetSocketAddress("10.79.0.1", 0));
                }
                return null;
            }).get();
        } finally {
            netns.shutdownNow();
        }
    }

    /** unshare(CLONE_NEWNET) for the calling thread; null, or why it cannot be done. */
    private static String enterPrivateNetworkNamespace() {
        if (!Files.exists(Path.of("/dev/net/tun"))) {
            return "/dev/net/tun is missing";
        }
        Linker linker = Linker.nativeLinker();
        StructLayout capture = Linker.Option.captureStateLayout();
        MethodHandle unshare = linker.downcallHandle(linker.defaultLookup().find("unshare").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT), Linker.Option.captureCallState("errno"));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(capture);
            int r = (int) unshare.invokeExact(state, 0x4000_0000 /* CLONE_NEWNET */);
            return r == 0 ? null : "unshare(CLONE_NEWNET) failed with errno "
                    + state.get(ValueLayout.JAVA_INT, capture.byteOffset(MemoryLayout.PathElement.groupElement("errno")));
        } catch (Throwable t) {
            return "unshare: " + t;
        }
    }

    @Test
    void aMachineWithoutAPciHostCannotHaveVirtioDevices() throws Exception {
        VmConfig config = config(List.of(), Optional.of(RngConfig.parse("src=/dev/urandom")));
        assertThatThrownBy(() -> new VirtioWiring(new HostTerminal()).attach(config, List.of(), memory, vm, vm.chip))
                .isInstanceOf(ConfigException.class).hasMessageContaining("no PCI host bridge");
    }

    /** A VM that records what the wiring asks of the hypervisor. */
    private static final class RecordingVm implements Vm {
        final List<IoEventAddress> ioeventfds = new ArrayList<>();
        final List<Integer> irqfdGsis = new ArrayList<>();
        final List<List<GsiRoute>> routing = new ArrayList<>();
        final IrqChip chip = new IrqChip() {
            @Override
            public IrqChipConfig config() {
                return new IrqChipConfig.X86Legacy(0, 0, false);
            }

            @Override
            public void finishSetup() {}

            @Override
            public void setIrqLine(int gsi, boolean high) {}

            @Override
            public void signalMsi(MsiMessage message) {}

            @Override
            public List<GsiRoute> lineRoutes() {
                return LINES;
            }
        };

        @Override
        public Arch arch() {
            return Arch.X86_64;
        }

        @Override
        public void setMemoryRegion(MemoryRegion region) {}

        @Override
        public void removeMemoryRegion(int slot) {}

        @Override
        public BitSet dirtyLog(int slot) {
            return new BitSet();
        }

        @Override
        public IrqChip createIrqChip(IrqChipConfig config) {
            return chip;
        }

        @Override
        public Optional<IrqChip> irqChip() {
            return Optional.of(chip);
        }

        @Override
        public Vcpu createVcpu(int id) {
            throw new UnsupportedOperationException();
        }

        @Override
        public synchronized void registerIrqfd(EventFd fd, int gsi) {
            irqfdGsis.add(gsi);
        }

        @Override
        public synchronized void unregisterIrqfd(EventFd fd, int gsi) {
            irqfdGsis.remove(Integer.valueOf(gsi));
        }

        @Override
        public synchronized void registerIoeventfd(EventFd fd, IoEventAddress address, OptionalLong datamatch) {
            ioeventfds.add(address);
        }

        @Override
        public synchronized void unregisterIoeventfd(EventFd fd, IoEventAddress address, OptionalLong datamatch) {
            ioeventfds.remove(address);
        }

        @Override
        public synchronized void setGsiRouting(List<GsiRoute> routes) {
            routing.add(List.copyOf(routes));
        }

        @Override
        public void close() {}
    }
}
