package dev.nimbus.devices.bench;

import dev.nimbus.devices.bus.BusDevice;
import dev.nimbus.devices.pci.MsiRouting;
import dev.nimbus.devices.virtio.VirtioPciDevice;
import dev.nimbus.devices.virtio.block.BlockBackend;
import dev.nimbus.devices.virtio.block.VirtioBlock;
import dev.nimbus.host.DiskImage;
import dev.nimbus.hypervisor.MsiMessage;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;
import dev.nimbus.hypervisor.memory.GuestMemoryException;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * A virtio-blk request's round trip inside the VMM, as the guest's driver sees it minus the exits: offer
 * requests on the available ring, the notification ({@code processQueue}), and wait for the used index,
 * on an image in the host's page cache. {@code io}: {@code threads} serves through I/O threads as a
 * machine does, {@code inline} in {@code processQueue} (the device before requests in flight); {@code depth}
 * requests of {@code bytes} each at once.
 *
 * <pre>
 * java -cp "$(cat cp.txt):devices/target/test-classes:devices/target/classes" org.openjdk.jmh.Main VirtioBlockBenchmark
 * </pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class VirtioBlockBenchmark {
    static final int QUEUE = 128;
    static final long DESC = 0x1_0000;
    static final long AVAIL = 0x2_0000;
    static final long USED = 0x3_0000;
    static final long HEADERS = 0x4_0000;
    static final long STATUS = 0x5_0000;
    static final long DATA = 0x100_0000;

    @Param({"threads", "inline"})
    public String io;
    @Param({"1", "32"})
    public int depth;
    @Param({"4096", "1048576"})
    public int bytes;

    GuestMemory memory;
    Path file;
    DiskImage image;
    ExecutorService pool;
    VirtioPciDevice device;
    BusDevice bar;
    short availIdx;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        memory = GuestMemory.allocate(List.of(new AddressRange(0, 64L << 20)));
        file = Files.createTempFile("virtio-blk-bench", ".raw");
        Files.write(file, new byte[64 << 20]);
        image = DiskImage.open(file, false, false);
        VirtioBlock blk = new VirtioBlock(BlockBackend.of(image), false, "bench", QUEUE, 1);
        device = new VirtioPciDevice(blk, memory, new MsiRouting() {
            @Override
            public void configure(int vector, MsiMessage message) {}

            @Override
            public void signal(int vector) {}
        }, -1);
        if (io.equals("threads")) {
            pool = Executors.newFixedThreadPool(blk.ioThreads(), r -> Thread.ofPlatform().daemon().unstarted(r));
            blk.useExecutor(pool);
        }
        bar = device.bars().getFirst().region();
        common(0x14, 1, 1);
        common(0x14, 1, 3);
        common(0x08, 4, 1);
        common(0x0c, 4, 1); // VERSION_1
        common(0x14, 1, 11);
        common(0x16, 2, 0);
        common(0x18, 2, QUEUE);
        common(0x20, 4, DESC);
        common(0x28, 4, AVAIL);
        common(0x30, 4, USED);
        common(0x1c, 2, 1);
        common(0x14, 1, 15);
        for (int r = 0; r < depth; r++) {
            long header = HEADERS + 16L * r;
            memory.writeInt(header, VirtioBlock.T_IN);
            memory.writeLong(header + 8, (long) r * (bytes / 512) % (60L << 11));
            descriptor(3 * r, header, 16, 1, 3 * r + 1);
            descriptor(3 * r + 1, DATA + (long) r * bytes % (48L << 20), bytes, 1 | 2, 3 * r + 2);
            descriptor(3 * r + 2, STATUS + r, 1, 2, 0);
        }
    }

    private void common(int offset, int size, long value) {
        bar.write(VirtioPciDevice.COMMON_OFFSET + offset, size, value);
    }

    private void descriptor(int index, long addr, int len, int flags, int next) throws GuestMemoryException {
        long at = DESC + 16L * index;
        memory.writeLong(at, addr);
        memory.writeInt(at + 8, len);
        memory.writeShort(at + 12, (short) flags);
        memory.writeShort(at + 14, (short) next);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        if (pool != null) {
            pool.shutdownNow();
        }
        image.close();
        memory.close();
        Files.deleteIfExists(file);
    }

    /** {@code depth} reads offered and notified at once, until the last is used. */
    @Benchmark
    public int roundTrip() throws GuestMemoryException {
        for (int r = 0; r < depth; r++) {
            memory.writeShort(AVAIL + 4 + 2L * ((availIdx & 0xffff) % QUEUE), (short) (3 * r));
            availIdx++;
        }
        memory.writeShort(AVAIL + 2, availIdx);
        device.processQueue(0);
        while (memory.readShort(USED + 2) != availIdx) {
            Thread.yield(); // the I/O thread may need this core
        }
        return availIdx;
    }
}
