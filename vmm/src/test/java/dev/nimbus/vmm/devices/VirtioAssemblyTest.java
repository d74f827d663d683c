package dev.nimbus.vmm.devices;

import dev.nimbus.devices.pci.PciConfigSpace;
import dev.nimbus.devices.pci.PciRoot;
import dev.nimbus.devices.virtio.VirtioPciDevice;
import dev.nimbus.devices.virtio.block.VirtioBlock;
import dev.nimbus.devices.virtio.net.VirtioNet;
import dev.nimbus.host.DiskImage;
import dev.nimbus.host.Errno;
import dev.nimbus.host.SyscallException;
import dev.nimbus.hypervisor.GsiRoute;
import dev.nimbus.hypervisor.IoEventAddress;
import dev.nimbus.hypervisor.MsiMessage;
import dev.nimbus.hypervisor.memory.AddressRange;
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
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The device manager's virtio functions over PCI with a recording VM: devices land on the PCI root, ioeventfds follow
 * BAR 0, MSI-X vectors become GSI routes above the chip's own lines with an irqfd each, and host files that
 * cannot be used are refused with the option's name, releasing what was already opened.
 */
class VirtioAssemblyTest {
    private static final AddressRange MMIO32 = DeviceBench.MMIO32;
    private static final List<GsiRoute> LINES = RecordingVm.LINES;

    @TempDir
    Path dir;
    private DeviceBench bench;
    private RecordingVm vm;
    private PciRoot root;

    @BeforeEach
    void setUp() {
        bench = new DeviceBench();
        vm = bench.vm;
    }

    @AfterEach
    void tearDown() {
        bench.close();
    }

    private VmConfig config(List<DiskConfig> disks, Optional<RngConfig> rng) throws Exception {
        Path kernel = Files.writeString(dir.resolve("vmlinuz"), "kernel");
        return new VmConfig(new CpusConfig(1, 1), MemoryConfig.parse("size=32M"), PayloadConfig.of(kernel.toString(), null, ""),
                ConsoleConfig.of(ConsoleConfig.Mode.OFF), ConsoleConfig.of(ConsoleConfig.Mode.OFF), disks, List.of(), rng);
    }

    private Path image(String name, int bytes) throws Exception {
        return Files.write(dir.resolve(name), new byte[bytes]);
    }

    private DeviceManager attach(VmConfig config) throws ConfigException {
        DeviceManager devices = bench.attach(config);
        root = DeviceBench.root(devices);
        return devices;
    }

    @Test
    void disksAndRngBecomeVirtioFunctionsAfterTheHostBridge() throws Exception {
        DeviceManager wired = attach(config(List.of(DiskConfig.parse("path=" + image("a.raw", 1 << 20)),
                DiskConfig.parse("path=" + image("b.raw", 4096) + ",readonly=on,id=data")), Optional.of(RngConfig.parse("src=/dev/urandom"))));

        assertThat(wired.virtioFunctions()).extracting(VirtioFunction::id).containsExactly("_disk0", "data", "_rng");
        assertThat(root.configRead(0, 1, 0, PciConfigSpace.DEVICE_ID, 2)).isEqualTo(0x1042L);
        assertThat(root.configRead(0, 2, 0, PciConfigSpace.DEVICE_ID, 2)).isEqualTo(0x1042L);
        assertThat(root.configRead(0, 3, 0, PciConfigSpace.DEVICE_ID, 2)).isEqualTo(0x1044L);
        assertThat(root.configRead(0, 4, 0, PciConfigSpace.VENDOR_ID, 2)).isEqualTo(0xffffL);
        assertThat(wired.virtioFunctions().getFirst().counters()).containsEntry("read_bytes", 0L).containsEntry("write_ops", 0L);
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
        DeviceManager wired = attach(config(List.of(DiskConfig.parse("path=" + image("a.raw", 4096))), Optional.empty()));
        VirtioPciDevice pci = wired.virtioFunctions().getFirst().device();
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
                .isInstanceOf(ConfigException.class).hasMessage("--disk path: " + dir.resolve("missing.raw") + ": no such file")
                // the REST API names the second disk by its place in the list
                .extracting(e -> ((ConfigException) e).apiMessage()).isEqualTo("disks[1].path: " + dir.resolve("missing.raw") + ": no such file");
        try (FileChannel again = FileChannel.open(good, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            assertThat(again.tryLock()).as("the first disk's lock was released").isNotNull();
        }
        assertThatThrownBy(() -> attach(config(List.of(DiskConfig.parse("path=" + dir)), Optional.empty())))
                .hasMessage("--disk path: " + dir + ": is a directory, not a disk image");
        assertThatThrownBy(() -> attach(config(List.of(DiskConfig.parse("path=" + good), DiskConfig.parse("path=" + good)), Optional.empty())))
                .hasMessage("--disk path: " + good + ": the image is in use by another process or disk");
        assertThatThrownBy(() -> attach(config(List.of(), Optional.of(RngConfig.parse("src=" + dir.resolve("nope"))))))
                .hasMessage("--rng src: " + dir.resolve("nope") + ": no such file");
    }

    private VmConfig netConfig(String net) throws Exception {
        Path kernel = Files.writeString(dir.resolve("vmlinuz"), "kernel");
        return new VmConfig(new CpusConfig(1, 1), MemoryConfig.parse("size=32M"), PayloadConfig.of(kernel.toString(), null, ""),
                ConsoleConfig.of(ConsoleConfig.Mode.OFF), ConsoleConfig.of(ConsoleConfig.Mode.OFF), List.of(),
                List.of(NetConfig.parse(net)), Optional.empty());
    }

    /**
     * A real tap, made in a network namespace private to one thread of this test ({@code unshare}), which
     * is where the wiring runs; under CI=true a host that cannot give one fails the test.
     */
    @Test
    void netBecomesAVirtioNetFunctionOnATapWithTheGivenMac() throws Exception {
        ExecutorService netns = Executors.newSingleThreadExecutor(r -> Thread.ofPlatform().daemon().unstarted(r));
        try {
            String unavailable = netns.submit(VirtioAssemblyTest::enterPrivateNetworkNamespace).get();
            if (unavailable != null) {
                if ("true".equals(System.getenv("CI"))) {
                    org.junit.jupiter.api.Assertions.fail("--net wiring needs a tap in a private network namespace: " + unavailable);
                }
                org.junit.jupiter.api.Assumptions.abort(unavailable);
            }
            VmConfig config = netConfig("tap=nimbus%d,ip=10.79.0.1,mask=255.255.255.0,mac=12:34:56:78:9a:bc,id=lan");
            DeviceManager wired = netns.submit(() -> attach(config)).get();

            assertThat(wired.virtioFunctions()).extracting(VirtioFunction::id).containsExactly("lan");
            assertThat(root.configRead(0, 1, 0, PciConfigSpace.DEVICE_ID, 2)).isEqualTo(0x1041L);
            VirtioNet net = (VirtioNet) wired.virtioFunctions().getFirst().device().device();
            assertThat(net.mac()).containsExactly(0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc);
            assertThat(wired.virtioFunctions().getFirst().counters()).containsEntry("rx_frames", 0L).containsEntry("tx_bytes", 0L);
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
        assertThatThrownBy(() -> bench.attach(config, List.of()))
                .isInstanceOf(ConfigException.class).hasMessageContaining("no PCI host bridge");
    }

    /** The descriptors of this process open on {@code file}, with their fdinfo flags (octal in /proc). */
    private static List<Integer> flagsOfDescriptorsOn(Path file) throws Exception {
        List<Integer> flags = new java.util.ArrayList<>();
        try (var fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : fds.toList()) {
                Path target;
                try {
                    target = Files.readSymbolicLink(fd);
                } catch (java.io.IOException e) {
                    continue; // the listing's own descriptor, gone already
                }
                if (target.equals(file.toAbsolutePath())) {
                    for (String line : Files.readAllLines(Path.of("/proc/self/fdinfo/" + fd.getFileName()))) {
                        if (line.startsWith("flags:")) {
                            flags.add(Integer.parseInt(line.substring(6).trim(), 8));
                        }
                    }
                }
            }
        }
        return flags;
    }

    /** A file on a disk file system (the build's target directory), where O_DIRECT works. */
    private static Path diskBackedImage(String name, int bytes) throws Exception {
        Path dir = Files.createDirectories(Path.of("target", "virtio-assembly-test")).toAbsolutePath();
        Path image = Files.write(Files.createTempFile(dir, name, ".raw"), new byte[bytes]);
        image.toFile().deleteOnExit();
        return image;
    }

    @Test
    void directOnOpensTheImageWithODirectAndDirectOffWithout() throws Exception {
        Path image = diskBackedImage("direct", 1 << 20);
        org.junit.jupiter.api.Assumptions.assumeFalse("tmpfs".equals(Files.getFileStore(image).type()), "target/ is on tmpfs here");
        Path buffered = image("buffered.raw", 4096);
        attach(config(List.of(DiskConfig.parse("path=" + image + ",direct=on"), DiskConfig.parse("path=" + buffered)), Optional.empty()));
        assertThat(flagsOfDescriptorsOn(image)).singleElement().satisfies(f -> assertThat(f & DiskImage.O_DIRECT).isNotZero());
        assertThat(flagsOfDescriptorsOn(buffered)).singleElement().satisfies(f -> assertThat(f & DiskImage.O_DIRECT).isZero());
    }

    /**
     * /dev/shm is tmpfs: where the kernel's tmpfs does no direct I/O (before Linux 6.6) {@code direct=on}
     * is refused naming the option; where it does, the disk is made, with O_DIRECT.
     */
    @Test
    void directOnAFileSystemWithoutDirectIoIsRefusedNamingTheOption() throws Exception {
        Path shm = Path.of("/dev/shm");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isDirectory(shm), "no /dev/shm");
        Path image = Files.write(Files.createTempFile(shm, "nimbus-direct", ".raw"), new byte[8192]);
        try {
            boolean tmpfsDoesDirect;
            try (DiskImage probe = DiskImage.open(image, true, true)) {
                tmpfsDoesDirect = probe.direct();
            } catch (SyscallException e) {
                tmpfsDoesDirect = false;
            }
            VmConfig config = config(List.of(DiskConfig.parse("path=" + image("first.raw", 4096)),
                    DiskConfig.parse("path=" + image + ",direct=on")), Optional.empty());
            if (tmpfsDoesDirect) {
                attach(config);
                assertThat(flagsOfDescriptorsOn(image)).singleElement().satisfies(f -> assertThat(f & DiskImage.O_DIRECT).isNotZero());
            } else {
                assertThatThrownBy(() -> attach(config)).isInstanceOf(ConfigException.class)
                        .hasMessageStartingWith("--disk direct: " + image + ": its file system does not support direct I/O")
                        .extracting(e -> ((ConfigException) e).apiMessage()).asString().startsWith("disks[1].direct: ");
            }
        } finally {
            Files.deleteIfExists(image);
        }
    }

    @Test
    void anOpenThatFailsWithEinvalUnderDirectBlamesDirect() {
        DiskConfig direct = new DiskConfig(Path.of("/x.raw"), false, true, 1, 128, Optional.empty(), Optional.empty());
        DiskConfig buffered = new DiskConfig(Path.of("/x.raw"), false, false, 1, 128, Optional.empty(), Optional.empty());
        ConfigException e = HostResources.diskOpenFailure(direct, 2, new SyscallException("open(/x.raw)", Errno.EINVAL));
        assertThat(e).hasMessage("--disk direct: /x.raw: its file system does not support direct I/O (O_DIRECT); use direct=off for this image");
        assertThat(e.apiMessage()).startsWith("disks[2].direct: /x.raw: its file system does not support direct I/O");
        assertThat(HostResources.diskOpenFailure(buffered, 0, new SyscallException("open(/x.raw)", Errno.EINVAL)))
                .hasMessageStartingWith("--disk path: /x.raw: cannot open");
    }

    @Test
    void numQueuesGivesTheDiskThatManyQueuesEachWithAVector() throws Exception {
        DeviceManager wired = attach(config(List.of(DiskConfig.parse("path=" + image("mq.raw", 1 << 20) + ",num_queues=4")), Optional.empty()));
        VirtioPciDevice pci = wired.virtioFunctions().getFirst().device();
        assertThat(pci.queueCount()).isEqualTo(4);
        assertThat(pci.msix().vectorCount()).isEqualTo(5);
        assertThat(pci.device().deviceFeatures() & 1L << VirtioBlock.F_MQ).isNotZero();
        assertThat(pci.device().readConfig(VirtioBlock.CONFIG_NUM_QUEUES, 2)).isEqualTo(4);
        assertThat(pci.device().ioThreads()).isGreaterThan(1);
    }
}
