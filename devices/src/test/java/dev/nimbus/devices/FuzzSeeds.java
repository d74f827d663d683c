package dev.nimbus.devices;

import dev.nimbus.devices.pci.MsiRouting;
import dev.nimbus.devices.testing.FuzzInput;
import dev.nimbus.devices.virtio.VirtioPciDevice;
import dev.nimbus.devices.virtio.VirtQueue;
import dev.nimbus.devices.virtio.console.VirtioConsole;
import dev.nimbus.hypervisor.MsiMessage;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Writes the seed inputs of this module's newer fuzz targets (the inputs a driver or a guest would
 * really send, encoded with {@link FuzzInput} as each target reads them) into
 * {@code src/test/resources/<package>/<Class>Inputs/<method>/}. Run from the module directory after a
 * target changes how it reads its input: {@code java -cp <test classpath> dev.nimbus.devices.FuzzSeeds}.
 */
public final class FuzzSeeds {
    private FuzzSeeds() {}

    static final Path RESOURCES = Path.of("src/test/resources/dev/nimbus/devices");

    public static void main(String[] args) throws IOException {
        netTransmit();
        netReceive();
        console();
        pci();
        uart16550();
        pl011();
        cmos();
        i8042();
    }

    static void write(String pkg, String cls, String method, String name, FuzzInput input) throws IOException {
        Path dir = RESOURCES.resolve(pkg).resolve(cls + "Inputs").resolve(method);
        Files.createDirectories(dir);
        Files.write(dir.resolve(name), input.build());
    }

    /** A descriptor table and available ring (0x200 bytes): descriptors {addr, len, flags, next}, then the heads made available. */
    static byte[] ring(long[][] descriptors, int... heads) {
        ByteBuffer b = ByteBuffer.allocate(0x200).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < descriptors.length; i++) {
            long[] d = descriptors[i];
            b.putLong(16 * i, d[0]).putInt(16 * i + 8, (int) d[1]).putShort(16 * i + 12, (short) d[2]).putShort(16 * i + 14, (short) d[3]);
        }
        b.putShort(0x102, (short) heads.length);
        for (int i = 0; i < heads.length; i++) {
            b.putShort(0x104 + 2 * i, (short) heads[i]);
        }
        return b.array();
    }

    static final int N = VirtQueue.DESC_F_NEXT;
    static final int W = VirtQueue.DESC_F_WRITE;

    static void netTransmit() throws IOException {
        String c = "VirtioNetFuzzTest", m = "transmittedFramesReachTheWireWhole";
        // one frame in one buffer: a header and a 60-byte frame
        write("virtio", c, m, "one-frame", new FuzzInput().bool(false).intIn(4, 0, 4).bool(false).bool(false)
                .bytes(ring(new long[][] {{0x1_0000, 72, 0, 0}}, 0)));
        // a header and a frame in two buffers, then a 1514-byte frame, with EVENT_IDX
        write("virtio", c, m, "two-frames-event-idx", new FuzzInput().bool(true).intIn(4, 0, 4).bool(true).bool(false)
                .bytes(ring(new long[][] {{0x1_0000, 12, N, 1}, {0x1_1000, 60, 0, 0}, {0x2_0000, 1526, 0, 0}}, 0, 2)));
        // a chain through an indirect table of two descriptors
        byte[] indirect = ring(new long[][] {{0x180, 32, VirtQueue.DESC_F_INDIRECT, 0}}, 0);
        ByteBuffer.wrap(indirect).order(ByteOrder.LITTLE_ENDIAN) // the table, at 0x180
                .putLong(0x180, 0x1_0000).putInt(0x188, 12).putShort(0x18c, (short) N).putShort(0x18e, (short) 1)
                .putLong(0x190, 0x1_1000).putInt(0x198, 60);
        write("virtio", c, m, "indirect", new FuzzInput().bool(false).intIn(4, 0, 4).bool(false).bool(true).bytes(indirect));
    }

    static void netReceive() throws IOException {
        String c = "VirtioNetFuzzTest", m = "receivedFramesFitTheChainsTheyFill";
        byte[] header = new byte[16];
        // one 2 KiB chain, one 60-byte frame, the driver notifies
        write("virtio", c, m, "one-frame", new FuzzInput().bool(false).bool(false).intIn(4, 0, 4)
                .bytes(ring(new long[][] {{0, 2048, W, 0}}, 0))
                .intIn(0, 0, 3).intIn(60, 0, 65550).bytes(header)
                .intIn(1, 0, 3));
        // MRG_RXBUF: a 1514-byte frame over three 1 KiB chains, then the tap is readable, then more buffers
        write("virtio", c, m, "mergeable", new FuzzInput().bool(true).bool(true).intIn(4, 0, 4)
                .bytes(ring(new long[][] {{0, 1024, W, 0}, {0x1000, 1024, W, 0}, {0x2000, 1024, W, 0}, {0x3000, 12, W | N, 4}, {0x4000, 4096, W, 0}}, 0, 1))
                .intIn(0, 0, 3).intIn(1514, 0, 65550).bytes(header)
                .intIn(2, 0, 3)
                .intIn(3, 0, 3).intIn(2, 0, 16).intIn(2, 0, 15).intIn(3, 0, 15)
                .intIn(1, 0, 3));
        // a frame larger than the one chain without MRG_RXBUF: dropped, the chain kept
        write("virtio", c, m, "too-large", new FuzzInput().bool(false).bool(false).intIn(4, 0, 4)
                .bytes(ring(new long[][] {{0, 128, W, 0}}, 0))
                .intIn(0, 0, 3).intIn(1000, 0, 65550).bytes(header)
                .intIn(0, 0, 3).intIn(50, 0, 65550).bytes(header)
                .intIn(1, 0, 3));
    }

    static void console() throws IOException {
        String c = "VirtioConsoleFuzzTest", m = "consoleRequestsStayInTheirChains";
        byte[] typed = "ls -l\n".getBytes(StandardCharsets.US_ASCII);
        write("virtio", c, m, "typed-and-echoed", new FuzzInput().intIn(4, 0, 4).intIn(4, 0, 4).bool(false)
                .bytes(ring(new long[][] {{0, 4, W, 0}, {0x1000, 64, W, 0}}, 0, 1))
                .bytes(ring(new long[][] {{0x2000, 16, 0, 0}}, 0))
                .intIn(0, 0, 3).intIn(typed.length, 0, 128).bytes(typed)
                .intIn(1, 0, 3)
                .intIn(2, 0, 3)
                .intIn(3, 0, 3).intIn(VirtioConsole.CONFIG_EMERG_WR, 0, 15).intIn(2, 0, 2).longValue('!'));
    }

    static void pci() throws IOException {
        int msixControl;
        try (GuestMemory memory = GuestMemory.allocate(List.of(new AddressRange(0, 64 << 10)))) {
            MsiRouting none = new MsiRouting() {
                @Override
                public void configure(int vector, MsiMessage message) {
                }

                @Override
                public void signal(int vector) {
                }
            };
            msixControl = new VirtioPciDevice(new VirtioConsole(OutputStream.nullOutputStream()), memory, none, -1).msix().offset() + 2;
        }
        Pci p = new Pci();
        p.config(2, 0x04, 0x6); // memory decoding and bus mastering
        p.config(2, msixControl, 0x8000); // MSI-X on
        p.register(1, 0x14, 1).register(1, 0x14, 3); // ACKNOWLEDGE, DRIVER
        p.register(4, 0x08, 1).register(4, 0x0c, 1); // VERSION_1
        p.register(1, 0x14, 0x0b); // FEATURES_OK
        for (int q = 0; q < 2; q++) {
            long base = 0x1000 + 0x1000L * 3 * q;
            p.register(2, 0x16, q).register(2, 0x18, 16).register(2, 0x1a, q)
                    .register(4, 0x20, base).register(4, 0x28, base + 0x1000).register(4, 0x30, base + 0x2000)
                    .register(2, 0x1c, 1);
        }
        p.register(2, 0x10, 2); // configuration vector
        for (int v = 0; v < 3; v++) {
            p.msix(v); // unmask
        }
        p.register(1, 0x14, 0x0f); // DRIVER_OK
        // transmit queue 1: one 16-byte buffer at 0x8000, made available
        ByteBuffer d = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 0x8000).putInt(8, 16);
        p.memory(0x4000, d.array());
        p.memory(0x5000, ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN).putShort(2, (short) 1).array());
        p.notify(1);
        p.input.intIn(0, 0, 2).intIn(5, 0, 7).intIn(1, 0, 2); // and served on this thread
        p.input.intIn(0, 0, 2).intIn(7, 0, 7); // a configuration change
        write("virtio", "VirtioPciFuzzTest", "theTransportKeepsItsRegistersAndBarsInBounds", "driver-bring-up", p.input);

        Pci bar = new Pci();
        bar.config(2, 0x04, 0x2);
        bar.config(4, 0x10, 0xffff_ffffL).config(4, 0x14, 0xffff_ffffL); // BAR sizing
        bar.config(4, 0x10, 0xfec0_0000L).config(4, 0x14, 0); // onto the fixed device: refused
        bar.config(4, 0x10, 0xd000_0000L); // somewhere free
        write("virtio", "VirtioPciFuzzTest", "theTransportKeepsItsRegistersAndBarsInBounds", "bar-moves", bar.input);
    }

    /** The operations of VirtioPciFuzzTest, as it reads them. */
    static final class Pci {
        final FuzzInput input = new FuzzInput();

        Pci config(int size, int register, long value) {
            input.intIn(Integer.numberOfTrailingZeros(size), 0, 2).intIn(0, 0, 7).bool(true);
            if (register <= 0x3f) {
                input.bool(true).intIn(register, 0, 0x3f);
            } else {
                input.bool(false).intIn(register, 0, 0xfff);
            }
            input.longValue(value);
            return this;
        }

        Pci register(int size, int offset, long value) {
            int region = offset < 0x1000 ? 0 : offset < 0x2000 ? 1 : offset < 0x3000 ? 2 : offset < 0x4000 ? 3 : offset < 0x6000 ? 4 : 5;
            int[] bases = {0, 0x1000, 0x2000, 0x3000, 0x4000, 0x6000};
            input.intIn(Integer.numberOfTrailingZeros(size), 0, 2).intIn(3, 0, 7).intIn(region, 0, 5)
                    .intIn(offset - bases[region], 0, 0x7f).longValue(value);
            return this;
        }

        Pci msix(int vector) {
            // vector control of table entry `vector`, one of the first eight (the fuzzer's offsets reach 0x7f)
            return register(4, 0x4000 + 16 * vector + 12, 0);
        }

        Pci memory(int offset, byte[] bytes) {
            input.intIn(0, 0, 2).intIn(6, 0, 7).intIn(offset, 0, (64 << 10) - 64).bytes(bytes);
            return this;
        }

        Pci notify(int queue) {
            return register(2, 0x3000 + 4 * queue, queue);
        }
    }

    static void uart16550() throws IOException {
        Uart u = new Uart();
        u.write(3, 0x80).write(0, 0x01).write(1, 0x00).write(3, 0x03); // 115200 8N1
        u.write(2, 0xc7).write(1, 0x05).write(4, 0x0b); // FIFOs, receive and line interrupts, OUT2
        u.input.intIn(2, 0, 3).intIn(5, 0, 24).bytes("hello".getBytes(StandardCharsets.US_ASCII));
        u.read(2).read(5);
        for (int i = 0; i < 5; i++) {
            u.read(0);
        }
        u.read(2).write(0, 'x').write(1, 0x07).read(2).read(6);
        u.write(4, 0x1b).write(0, 'y').read(5).read(0); // loopback
        u.input.intIn(3, 0, 3); // saved and restored
        write("serial", "UartFuzzTest", "the16550KeepsItsFifoAndInterruptLineConsistent", "linux-probe-and-io", u.input);
    }

    /** The operations of the 16550 target, byte-wide. */
    static final class Uart {
        final FuzzInput input = new FuzzInput();

        Uart write(int offset, int value) {
            input.intIn(0, 0, 3).intIn(0, 0, 3).intIn(offset, 0, 7).longValue(value);
            return this;
        }

        Uart read(int offset) {
            input.intIn(1, 0, 3).intIn(0, 0, 3).intIn(offset, 0, 7);
            return this;
        }
    }

    static void pl011() throws IOException {
        FuzzInput in = new FuzzInput();
        int[][] writes = {{0x030, 0x301}, {0x02c, 0x70}, {0x034, 0x12}, {0x038, 0x50}};
        for (int[] w : writes) {
            in.intIn(2, 0, 3).bool(true).intIn(w[0], 0, 0x4c).intIn(0, 0, 2).longValue(w[1]);
        }
        in.intIn(0, 0, 3).bool(true).intIn(0, 0, 0x4c).intIn(2, 0, 2).intIn(3, 0, 24).bytes("abc".getBytes(StandardCharsets.US_ASCII));
        in.intIn(2, 0, 3).bool(true).intIn(0x40, 0, 0x4c).intIn(1, 0, 2); // MIS
        for (int i = 0; i < 3; i++) {
            in.intIn(2, 0, 3).bool(true).intIn(0, 0, 0x4c).intIn(1, 0, 2); // DR
        }
        in.intIn(2, 0, 3).bool(true).intIn(0, 0, 0x4c).intIn(0, 0, 2).longValue('x');
        in.intIn(2, 0, 3).bool(true).intIn(0x44, 0, 0x4c).intIn(0, 0, 2).longValue(0x7ff);
        in.intIn(2, 0, 3).bool(false).intIn(0xfe0, 0, 0xfff).intIn(1, 0, 2); // peripheral ID
        write("serial", "UartFuzzTest", "thePl011KeepsItsFifoAndInterruptLineConsistent", "linux-probe-and-io", in);
    }

    static void cmos() throws IOException {
        FuzzInput in = new FuzzInput();
        select(in, 0x0b).intIn(1, 0, 3).intIn(0x72, 0, 0xff).bool(true); // PIE, AIE, UIE, 24-hour
        in.intIn(3, 0, 3).intIn(1, 0, 7).intIn(2, 0, 300); // two seconds pass
        select(in, 0x0c).intIn(2, 0, 3); // read C
        select(in, 0x0b).intIn(1, 0, 3).intIn(0x82, 0, 0xff).bool(true); // SET
        select(in, 0x00).intIn(1, 0, 3).intIn(0x59, 0, 0xff).bool(true);
        select(in, 0x08).intIn(1, 0, 3).intIn(0x02, 0, 0xff).bool(true);
        select(in, 0x07).intIn(1, 0, 3).intIn(0x30, 0, 0xff).bool(true); // February 30th
        select(in, 0x0b).intIn(1, 0, 3).intIn(0x22, 0, 0xff).bool(true); // run again, alarm on
        for (int alarm : new int[] {0x01, 0x03, 0x05}) {
            select(in, alarm).intIn(1, 0, 3).intIn(0xc0, 0, 0xff).bool(true);
        }
        in.intIn(3, 0, 3).intIn(0, 0, 7).intIn(90_000, 0, 172_800); // a day passes
        select(in, 0x0c).intIn(2, 0, 3);
        in.intIn(1, 0, 3).intIn(0x40, 0, 0xff).bool(false).intIn(0x5a, 0, 0xff); // 16-bit write to RAM 0x40
        in.intIn(2, 0, 3);
        write("rtc", "CmosRtcFuzzTest", "theRtcKeepsItsRamAndInterruptLineConsistent", "set-time-alarm-and-ram", in);
    }

    static FuzzInput select(FuzzInput in, int register) {
        in.intIn(0, 0, 3);
        if (register <= 0x0d) {
            in.bool(true).intIn(register, 0, 0x0d);
        } else {
            in.bool(false).intIn(register, 0, 0x7f);
        }
        return in.bool(false);
    }

    static void i8042() throws IOException {
        FuzzInput in = new FuzzInput();
        kbc(in, false, 0xaa).read(in, true); // self test
        kbc(in, false, 0x20).read(in, true); // read the command byte
        kbc(in, false, 0x60);
        kbc(in, true, 0x47); // write it
        kbc(in, true, 0xff).read(in, false).read(in, true); // a keyboard reset: no keyboard
        kbc(in, false, 0xd4);
        kbc(in, true, 0xf4); // to the mouse: none
        kbc(in, false, 0xd1);
        kbc(in, true, 0xfe); // output port: pulse reset
        kbc(in, false, 0xfe); // pulse reset
        write("ps2", "I8042FuzzTest", "theControllerKeepsItsInterruptLineWithItsStatus", "linux-probe-and-reset", in);
    }

    static FuzzSeeds.Kbc kbc(FuzzInput in, boolean data, int value) {
        in.bool(data).intIn(0, 0, 2).bool(true).intIn(value, 0, 0xff);
        return KBC;
    }

    static final Kbc KBC = new Kbc();

    static final class Kbc {
        Kbc read(FuzzInput in, boolean data) {
            in.bool(data).intIn(0, 0, 2).bool(false);
            return this;
        }
    }
}
