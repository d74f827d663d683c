package dev.nimbus.vmm.snapshot;

import dev.nimbus.devices.state.DeviceState;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.state.StateRecord;
import dev.nimbus.vmm.config.CommandLineConfig;
import dev.nimbus.vmm.config.VmConfig;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

/**
 * A whole snapshot directory written by {@link Snapshot#write} for tests, of a VM with one disk (8 MiB) and a
 * named tap, with made-up state records: what restore reads and checks before it makes anything.
 */
public record SnapshotFixture(Path dir, Path disk, VmConfig config, VmStateFile state) {
    public static final long MIB = 1 << 20;
    public static final List<AddressRange> RANGES = List.of(new AddressRange(0, MIB), new AddressRange(4 * MIB, MIB));
    public static final String TAP = "snaptest0";

    public static SnapshotFixture write(Path tmp) throws Exception {
        Path kernel = Files.write(tmp.resolve("vmlinux"), new byte[] {1});
        Path disk = tmp.resolve("disk.img");
        try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
            f.setLength(8 * MIB);
        }
        VmConfig config = CommandLineConfig.read(Map.of("--kernel", List.of(kernel.toString()), "--cpus", List.of("boot=2"),
                "--disk", List.of("path=" + disk), "--net", List.of("tap=" + TAP + ",ip=192.168.77.1,mask=255.255.255.0")));
        VmStateFile state = new VmStateFile(
                List.of(List.of(new StateRecord("kvm-x86-regs", 1, new byte[] {1, 2, 3})), List.of(new StateRecord("kvm-x86-regs", 1, new byte[] {4}))),
                List.of(new StateRecord("kvm-x86-pit2", 1, new byte[16])),
                List.of(new DeviceState("serial-16550a", 1, new byte[] {9, 9}), new DeviceState("virtio-pci", 2, new byte[0])));
        Path dir = tmp.resolve("snap");
        Snapshot.prepare(dir);
        try (RandomAccessFile f = new RandomAccessFile(dir.resolve(Snapshot.MEMORY).toFile(), "rw")) {
            f.setLength(2 * MIB);
        }
        Snapshot.write(dir, new Snapshot.Contents("1.2.3", "x86_64", "kvm", config, state, OptionalLong.of(123_456_789L), RANGES));
        return new SnapshotFixture(dir, disk, config, state);
    }

    /** Sets {@code file}'s length (a truncated file, a grown disk). */
    public static void resize(Path file, long length) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(length);
        }
    }
}
