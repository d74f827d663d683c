package dev.nimbus.devices.bus;

import dev.nimbus.hypervisor.VcpuExit;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BusTest {
    /** A device that answers offset*0x11 and records writes as "offset=value/size". */
    static final class Probe implements BusDevice {
        final String name;
        final List<String> writes = new ArrayList<>();

        Probe(String name) {
            this.name = name;
        }

        @Override
        public long read(long offset, int size) {
            return offset * 0x11;
        }

        @Override
        public void write(long offset, int size, long value) {
            writes.add(offset + "=0x" + Long.toHexString(value) + "/" + size);
        }

        @Override
        public String name() {
            return name;
        }
    }

    @Test
    void overlappingRangesAreRejected() {
        Bus bus = new Bus(AddressSpace.PIO);
        bus.insert(0x3f8, 8, new Probe("serial"));

        assertThatThrownBy(() -> bus.insert(0x3fc, 8, new Probe("other")))
                .isInstanceOf(BusConflictException.class)
                .hasMessage("other at ports 0x3fc-0x403 overlaps serial at ports 0x3f8-0x3ff");
        assertThatThrownBy(() -> bus.insert(0x3f0, 9, new Probe("below")))
                .isInstanceOf(BusConflictException.class)
                .hasMessageContaining("overlaps serial");
    }

    @Test
    void adjacentRangesAreAccepted() {
        Bus bus = new Bus(AddressSpace.PIO);
        bus.insert(0x3f8, 8, new Probe("serial"));
        bus.insert(0x3f0, 8, new Probe("below"));
        bus.insert(0x400, 1, new Probe("above"));

        assertThat(bus.mappings()).extracting(BusMapping::base).containsExactly(0x3f0L, 0x3f8L, 0x400L);
    }

    @Test
    void deviceSeesOffsetWithinItsRange() {
        Bus bus = new Bus(AddressSpace.PIO);
        Probe serial = new Probe("serial");
        bus.insert(0x3f8, 8, serial);

        assertThat(bus.read(0x3fd, 1)).isEqualTo(5 * 0x11);
        bus.write(0x3fb, 1, 0x83);
        assertThat(serial.writes).containsExactly("3=0x83/1");
    }

    @Test
    void unmappedPortReadsAllOnes() {
        Bus bus = new Bus(AddressSpace.PIO);
        bus.insert(0x3f8, 8, new Probe("serial"));

        assertThat(bus.read(0x2f8, 1)).isEqualTo(0xffL);
        assertThat(bus.read(0x2f8, 2)).isEqualTo(0xffffL);
        assertThat(bus.read(0x2f8, 4)).isEqualTo(0xffff_ffffL);
        assertThat(bus.unmappedReads()).isEqualTo(3);
    }

    @Test
    void unmappedWriteIsDroppedAndCounted() {
        Bus bus = new Bus(AddressSpace.MMIO);
        Probe hpet = new Probe("hpet");
        bus.insert(0xfed0_0000L, 0x400, hpet);

        bus.write(0xfec0_0000L, 4, 0x1234);

        assertThat(hpet.writes).isEmpty();
        assertThat(bus.unmappedWrites()).isEqualTo(1);
    }

    @Test
    void accessStraddlingTheEndOfARangeIsUnmapped() {
        Bus bus = new Bus(AddressSpace.PIO);
        Probe port = new Probe("debug port");
        bus.insert(0x80, 1, port);

        assertThat(bus.read(0x80, 2)).isEqualTo(0xffffL);
        bus.write(0x80, 4, 0);
        assertThat(port.writes).isEmpty();
    }

    @Test
    void lookupFindsTheRightDeviceAmongMany() {
        Bus bus = new Bus(AddressSpace.MMIO);
        List<Probe> probes = new ArrayList<>();
        // Inserted in a scrambled order; 0x1000-byte ranges with 0x1000-byte holes between them.
        for (int i = 0; i < 100; i++) {
            int k = (i * 37) % 100;
            Probe p = new Probe("dev" + k);
            probes.add(p);
            bus.insert(0x1_0000_0000L + k * 0x2000L, 0x1000, p);
        }
        for (int k = 0; k < 100; k++) {
            long base = 0x1_0000_0000L + k * 0x2000L;
            assertThat(bus.deviceAt(base).name()).isEqualTo("dev" + k);
            assertThat(bus.deviceAt(base + 0xfff).name()).isEqualTo("dev" + k);
            assertThat(bus.deviceAt(base + 0x1000)).isNull();
        }
        assertThat(bus.deviceAt(0xffff_ffffL)).isNull();
    }

    @Test
    void removedRangeReadsAllOnes() {
        Bus bus = new Bus(AddressSpace.PIO);
        bus.insert(0x70, 2, new Probe("cmos"));

        assertThat(bus.remove(0x70)).isTrue();

        assertThat(bus.read(0x71, 1)).isEqualTo(0xffL);
        assertThat(bus.remove(0x70)).isFalse();
    }

    @Test
    void rangeBeyondThePortSpaceIsRejected() {
        Bus bus = new Bus(AddressSpace.PIO);

        assertThatThrownBy(() -> bus.insert(0xfffe, 4, new Probe("wide")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("does not fit in the PIO space");
    }

    @Test
    void mmioRangeCannotGoOnThePortBus() {
        Bus bus = new Bus(AddressSpace.PIO);

        assertThatThrownBy(() -> bus.insert(new BusMapping(AddressSpace.MMIO, 0x1000, 8, new Probe("uart"))))
                .hasMessage("uart: a MMIO range cannot go on the PIO bus");
    }

    /** An {@code in} exit as a backend would present it. */
    static final class FakeIoIn implements VcpuExit.IoIn {
        final int port;
        final int size;
        final long[] answers;

        FakeIoIn(int port, int size, int count) {
            this.port = port;
            this.size = size;
            this.answers = new long[count];
        }

        @Override
        public int port() {
            return port;
        }

        @Override
        public int size() {
            return size;
        }

        @Override
        public int count() {
            return answers.length;
        }

        @Override
        public void respond(int index, long value) {
            answers[index] = value;
        }
    }

    @Test
    void ioInExitGetsTheDevicesAnswer() {
        Buses buses = new Buses();
        buses.pio().insert(0x3f8, 8, new Probe("serial"));
        FakeIoIn lsrRead = new FakeIoIn(0x3fd, 1, 1);

        buses.handle(lsrRead);

        assertThat(lsrRead.answers).containsExactly(0x55L);
    }

    @Test
    void repInsOnAnUnmappedPortReadsAllOnesEachTime() {
        Buses buses = new Buses();
        FakeIoIn ins = new FakeIoIn(0x1f0, 2, 3);

        buses.handle(ins);

        assertThat(ins.answers).containsExactly(0xffffL, 0xffffL, 0xffffL);
    }

    @Test
    void repOutsWritesEachValueInOrder() {
        Buses buses = new Buses();
        Probe port = new Probe("debug port");
        buses.pio().insert(0x80, 1, port);
        VcpuExit.IoOut outs = new VcpuExit.IoOut() {
            @Override
            public int port() {
                return 0x80;
            }

            @Override
            public int size() {
                return 1;
            }

            @Override
            public int count() {
                return 2;
            }

            @Override
            public long value(int index) {
                return 0x40 + index;
            }
        };

        buses.handle(outs);

        assertThat(port.writes).containsExactly("0=0x40/1", "0=0x41/1");
    }

    @Test
    void mmioExitsReachTheMmioBus() {
        Buses buses = new Buses();
        Probe uart = new Probe("uart");
        buses.mmio().insert(0x9000_0000L, 0x1000, uart);
        long[] answer = new long[1];

        buses.handle(new VcpuExit.MmioRead() {
            @Override
            public long address() {
                return 0x9000_0003L;
            }

            @Override
            public int size() {
                return 1;
            }

            @Override
            public void respond(long value) {
                answer[0] = value;
            }
        });
        buses.handle(new VcpuExit.MmioWrite() {
            @Override
            public long address() {
                return 0x9000_0004L;
            }

            @Override
            public int size() {
                return 4;
            }

            @Override
            public long value() {
                return 0xdead_beefL;
            }
        });

        assertThat(answer[0]).isEqualTo(0x33L);
        assertThat(uart.writes).containsExactly("4=0xdeadbeef/4");
    }

    @Test
    void wideAccessToByteRegistersIsSplitLowByteFirst() {
        List<String> log = new ArrayList<>();
        ByteRegisterDevice regs = new ByteRegisterDevice() {
            @Override
            protected int readByte(int offset) {
                log.add("r" + offset);
                return 0x10 + offset;
            }

            @Override
            protected void writeByte(int offset, int value) {
                log.add("w" + offset + "=" + Integer.toHexString(value));
            }
        };

        assertThat(regs.read(2, 2)).isEqualTo(0x1312L);
        regs.write(0, 2, 0xbbaa);
        assertThat(log).containsExactly("r2", "r3", "w0=aa", "w1=bb");
    }
}
