package dev.nimbus.devices.pci;

import dev.nimbus.devices.bus.Buses;
import dev.nimbus.devices.bus.BusDevice;
import dev.nimbus.hypervisor.memory.AddressRange;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Configuration space through ECAM and ports 0xcf8/0xcfc, BAR sizing (PCI Local Bus 3.0, 6.2.5.1) and BAR
 * moves, on the x86-64 machine's windows: MMIO32 0xc000_0000 + 512 MiB, ECAM 0xe000_0000, MMIO64 above RAM.
 */
class PciRootTest {
    static final long ECAM = 0xe000_0000L;
    static final AddressRange MMIO32 = new AddressRange(0xc000_0000L, 512L << 20);
    static final AddressRange MMIO64 = new AddressRange(1L << 32, 64L << 30);

    final Buses buses = new Buses();
    final List<long[]> moves = new ArrayList<>();
    final PciRoot root = new PciRoot(buses.mmio(), new PciBarAllocator(MMIO32, MMIO64),
            (slot, device, bar, oldBase, newBase) -> moves.add(new long[] {slot, bar, oldBase, newBase}));
    final PciEcam ecam = new PciEcam(root, 0);
    final PciConfigIo configIo = new PciConfigIo(root);

    /** A function with a 32-bit 4 KiB BAR 0 and a 64-bit 64 KiB BAR 2 whose registers echo their offset. */
    static final class TestFunction implements PciDevice {
        final PciConfigSpace config = new PciConfigSpace(0x1234, 0x5678, 0x020000, 3, 0x1234, 0x1);
        final BusDevice small = new Echo();
        final BusDevice large = new Echo();

        @Override
        public PciConfigSpace config() {
            return config;
        }

        @Override
        public List<PciBar> bars() {
            return List.of(new PciBar(0, 0x1000, false, false, small), new PciBar(2, 0x10000, true, true, large));
        }
    }

    static final class Echo implements BusDevice {
        @Override
        public long read(long offset, int size) {
            return offset;
        }

        @Override
        public void write(long offset, int size, long value) {}
    }

    {
        buses.mmio().insert(ECAM, ecam.size(), ecam);
        buses.pio().insert(PciConfigIo.BASE, PciConfigIo.PORTS, configIo);
    }

    static long ecamAddress(int device, int register) {
        return ECAM + ((long) device << 15) + register;
    }

    long cf8Read(int device, int register, int size) {
        buses.pio().write(0xcf8, 4, 0x8000_0000L | device << 11 | (register & 0xfc));
        return buses.pio().read(0xcfc + (register & 3), size);
    }

    @Test
    void hostBridgeIsDeviceZeroWithBridgeClass() {
        assertThat(buses.mmio().read(ecamAddress(0, 0x00), 4)).isEqualTo(0x0008_1b36L);
        assertThat(buses.mmio().read(ecamAddress(0, 0x08), 4) >>> 8).isEqualTo(0x060000L);
    }

    @Test
    void configPortsReachTheSameRegistersAsEcam() {
        int slot = root.add(new TestFunction());
        assertThat(cf8Read(slot, 0x00, 4)).isEqualTo(0x5678_1234L);
        assertThat(cf8Read(slot, 0x02, 2)).isEqualTo(0x5678L);
        assertThat(cf8Read(slot, 0x0b, 1)).isEqualTo(0x02L);
        assertThat(buses.mmio().read(ecamAddress(slot, 0x00), 4)).isEqualTo(0x5678_1234L);
    }

    @Test
    void addressRegisterReadsBackWhatWasWritten() {
        buses.pio().write(0xcf8, 4, 0x8000_1a0fL);
        assertThat(buses.pio().read(0xcf8, 4)).isEqualTo(0x8000_1a0cL);
    }

    @Test
    void configPortsWithoutEnableBitReadAllOnes() {
        buses.pio().write(0xcf8, 4, 0);
        assertThat(buses.pio().read(0xcfc, 4)).isEqualTo(0xffff_ffffL);
    }

    @Test
    void absentDeviceReadsAllOnes() {
        assertThat(buses.mmio().read(ecamAddress(7, 0), 4)).isEqualTo(0xffff_ffffL);
        assertThat(cf8Read(7, 0, 2)).isEqualTo(0xffffL);
    }

    @Test
    void otherFunctionsAndBusesReadAllOnes() {
        root.add(new TestFunction());
        assertThat(buses.mmio().read(ECAM + (1 << 15) + (1 << 12), 4)).isEqualTo(0xffff_ffffL);
        assertThat(root.configRead(1, 1, 0, 0, 4)).isEqualTo(0xffff_ffffL);
    }

    @Test
    void barSizingReturnsSizeMask() {
        int slot = root.add(new TestFunction());
        buses.mmio().write(ecamAddress(slot, 0x10), 4, 0xffff_ffffL);
        assertThat(buses.mmio().read(ecamAddress(slot, 0x10), 4)).isEqualTo(0xffff_f000L); // 4 KiB, 32-bit, not prefetchable
    }

    @Test
    void sixtyFourBitBarSizingSpansBothRegisters() {
        int slot = root.add(new TestFunction());
        buses.mmio().write(ecamAddress(slot, 0x18), 4, 0xffff_ffffL);
        buses.mmio().write(ecamAddress(slot, 0x1c), 4, 0xffff_ffffL);
        assertThat(buses.mmio().read(ecamAddress(slot, 0x18), 4)).isEqualTo(0xffff_0000L | 0b1100); // 64-bit, prefetchable
        assertThat(buses.mmio().read(ecamAddress(slot, 0x1c), 4)).isEqualTo(0xffff_ffffL);
    }

    @Test
    void barsAreAssignedNaturallyAlignedFromTheWindows() {
        int slot = root.add(new TestFunction());
        long bar0 = buses.mmio().read(ecamAddress(slot, 0x10), 4) & ~0xfL;
        long bar2 = buses.mmio().read(ecamAddress(slot, 0x18), 4) & ~0xfL | buses.mmio().read(ecamAddress(slot, 0x1c), 4) << 32;
        assertThat(MMIO32.contains(bar0)).isTrue();
        assertThat(bar0 % 0x1000).isZero();
        assertThat(MMIO64.contains(bar2)).isTrue();
        assertThat(bar2 % 0x10000).isZero();
    }

    @Test
    void barIsDecodedOnlyWhileMemorySpaceIsEnabled() {
        int slot = root.add(new TestFunction());
        long bar0 = buses.mmio().read(ecamAddress(slot, 0x10), 4) & ~0xfL;
        assertThat(buses.mmio().deviceAt(bar0)).isNull();
        buses.mmio().write(ecamAddress(slot, 0x04), 2, PciConfigSpace.COMMAND_MEMORY);
        assertThat(buses.mmio().read(bar0 + 0x24, 4)).isEqualTo(0x24L);
        buses.mmio().write(ecamAddress(slot, 0x04), 2, 0);
        assertThat(buses.mmio().deviceAt(bar0)).isNull();
    }

    @Test
    void guestMovingABarMovesItsBusMapping() {
        int slot = root.add(new TestFunction());
        buses.mmio().write(ecamAddress(slot, 0x04), 2, PciConfigSpace.COMMAND_MEMORY);
        long old = buses.mmio().read(ecamAddress(slot, 0x10), 4) & ~0xfL;
        long moved = 0xd000_0000L;
        buses.mmio().write(ecamAddress(slot, 0x10), 4, moved);
        assertThat(buses.mmio().deviceAt(old)).isNull();
        assertThat(buses.mmio().read(moved + 8, 4)).isEqualTo(8L);
        assertThat(moves.getLast()).containsExactly(slot, 0, old, moved);
        assertThat(root.mappedBase(slot, 0)).isEqualTo(moved);
    }

    @Test
    void barPlacedOverAnotherDeviceStaysUnmapped() {
        int slot = root.add(new TestFunction());
        buses.mmio().write(ecamAddress(slot, 0x04), 2, PciConfigSpace.COMMAND_MEMORY);
        buses.mmio().write(ecamAddress(slot, 0x10), 4, ECAM); // on top of ECAM itself
        assertThat(buses.mmio().deviceAt(ECAM)).isSameAs(ecam);
        assertThat(root.mappedBase(slot, 0)).isEqualTo(-1);
    }

    @Test
    void aGuestWritingBarsOverEachOtherCannotFloodTheLog() {
        java.util.logging.Logger jul = java.util.logging.Logger.getLogger(PciRoot.class.getName());
        List<java.util.logging.LogRecord> records = new ArrayList<>();
        java.util.logging.Handler handler = new java.util.logging.Handler() {
            @Override public void publish(java.util.logging.LogRecord r) { records.add(r); }
            @Override public void flush() {}
            @Override public void close() {}
        };
        jul.addHandler(handler);
        try {
            int slot = root.add(new TestFunction());
            buses.mmio().write(ecamAddress(slot, 0x04), 2, PciConfigSpace.COMMAND_MEMORY);
            for (int i = 0; i < 5000; i++) {
                buses.mmio().write(ecamAddress(slot, 0x10), 4, ECAM); // on top of ECAM, again and again
                buses.mmio().write(ecamAddress(slot, 0x10), 4, 0);
            }
            assertThat(root.mappedBase(slot, 0)).isEqualTo(-1);
            assertThat(records).as("warnings for 5,000 conflicting BAR placements within one interval").hasSize(1);
            assertThat(records.getFirst().getLevel()).isEqualTo(java.util.logging.Level.WARNING);
        } finally {
            jul.removeHandler(handler);
        }
    }

    @Test
    void readOnlyIdsIgnoreWrites() {
        int slot = root.add(new TestFunction());
        buses.mmio().write(ecamAddress(slot, 0x00), 4, 0);
        assertThat(buses.mmio().read(ecamAddress(slot, 0x00), 4)).isEqualTo(0x5678_1234L);
    }

    @Test
    void capabilityListIsLinkedFromTheCapabilitiesPointer() {
        PciConfigSpace config = new PciConfigSpace(1, 2, 0, 0, 0, 0);
        int first = config.addCapability(new byte[] {0x09, 0, 4, 0});
        int second = config.addCapability(new byte[] {0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
        assertThat(config.read(PciConfigSpace.STATUS, 2) & PciConfigSpace.STATUS_CAPABILITIES).isNotZero();
        assertThat(config.read(PciConfigSpace.CAPABILITIES_POINTER, 1)).isEqualTo(first);
        assertThat(config.read(first + 1, 1)).isEqualTo(second);
        assertThat(config.read(second + 1, 1)).isZero();
    }

    @Test
    void extendedConfigSpaceReadsZero() {
        int slot = root.add(new TestFunction());
        assertThat(buses.mmio().read(ecamAddress(slot, 0x100), 4)).isZero();
    }

    @Test
    void allocatorRefusesABarThatDoesNotFit() {
        PciBarAllocator small = new PciBarAllocator(new AddressRange(0xc000_0000L, 0x2000), new AddressRange(0, 0));
        small.allocate(0x1000, false);
        small.allocate(0x1000, true);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> small.allocate(0x1000, false))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("no room");
    }

}
