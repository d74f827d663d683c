package dev.nimbus.devices.virtio;

import dev.nimbus.devices.bus.Buses;
import dev.nimbus.devices.pci.PciBarAllocator;
import dev.nimbus.devices.pci.PciConfigIo;
import dev.nimbus.devices.pci.PciEcam;
import dev.nimbus.devices.pci.PciRoot;
import dev.nimbus.devices.testing.RecordingMsiRouting;
import dev.nimbus.devices.virtio.rng.VirtioRng;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The pieces assembled as the VMM will assemble them on x86-64 (ECAM at 0xe000_0000, ports 0xcf8-0xcff,
 * BARs from MMIO32/MMIO64), probed the way Linux's PCI core and virtio_pci modern driver probe: every
 * access goes through the PIO and MMIO buses.
 */
class VirtioPciEnumerationTest {
    static final long ECAM = 0xe000_0000L;
    final GuestMemory memory = GuestMemory.allocate(List.of(new AddressRange(0, 4L << 20)));
    final Buses buses = new Buses();
    final List<long[]> barMoves = new ArrayList<>();
    final PciRoot root = new PciRoot(buses.mmio(),
            new PciBarAllocator(new AddressRange(0xc000_0000L, 512L << 20), new AddressRange(1L << 32, 64L << 30)),
            (slot, device, bar, oldBase, newBase) -> barMoves.add(new long[] {slot, bar, oldBase, newBase}));
    final RecordingMsiRouting routing = new RecordingMsiRouting();

    @AfterEach
    void close() {
        memory.close();
    }

    long cfg(int slot, int register, int size) {
        return buses.mmio().read(ECAM + ((long) slot << 15) + register, size);
    }

    void cfg(int slot, int register, int size, long value) {
        buses.mmio().write(ECAM + ((long) slot << 15) + register, size, value);
    }

    @Test
    void guestFindsTheRngAndDrivesItThroughTheBuses() throws Exception {
        PciEcam ecam = new PciEcam(root, 0);
        buses.mmio().insert(ECAM, ecam.size(), ecam);
        buses.pio().insert(PciConfigIo.BASE, PciConfigIo.PORTS, new PciConfigIo(root));
        try (FileChannel urandom = FileChannel.open(Path.of("/dev/urandom"), StandardOpenOption.READ)) {
            VirtioPciDevice rng = new VirtioPciDevice(new VirtioRng(urandom), memory, routing, -1);
            root.add(rng);

            // Scan bus 0 through the legacy ports, as the x86 PCI core does before it trusts MMCONFIG.
            int found = -1;
            for (int slot = 0; slot < 32; slot++) {
                buses.pio().write(0xcf8, 4, 0x8000_0000L | slot << 11);
                if (buses.pio().read(0xcfc, 4) == 0x1044_1af4L) {
                    found = slot;
                }
            }
            assertThat(found).isEqualTo(1);
            int slot = found;

            // Size BAR 0 (64-bit) with decoding off, restore it, then enable memory decoding.
            long low = cfg(found, 0x10, 4);
            long high = cfg(found, 0x14, 4);
            cfg(found, 0x10, 4, 0xffff_ffffL);
            cfg(found, 0x14, 4, 0xffff_ffffL);
            long mask = (cfg(found, 0x10, 4) & ~0xfL) | cfg(found, 0x14, 4) << 32;
            assertThat(-mask).isEqualTo(VirtioPciDevice.BAR_SIZE);
            cfg(found, 0x10, 4, low);
            cfg(found, 0x14, 4, high);
            cfg(found, 0x04, 2, 0x0006); // memory + bus master
            long bar = (low & ~0xfL) | high << 32;
            assertThat(bar).isGreaterThanOrEqualTo(1L << 32);
            assertThat(barMoves).anySatisfy(m -> assertThat(m).containsExactly(slot, 0, -1, bar));

            // Walk the capabilities to the common configuration, and bring the device up through the BAR.
            int common = -1;
            int notify = -1;
            for (int at = (int) cfg(found, 0x34, 1); at != 0; at = (int) cfg(found, at + 1, 1)) {
                if (cfg(found, at, 1) == 0x09 && cfg(found, at + 3, 1) == VirtioPciDevice.CAP_COMMON) {
                    common = (int) cfg(found, at + 8, 4);
                }
                if (cfg(found, at, 1) == 0x09 && cfg(found, at + 3, 1) == VirtioPciDevice.CAP_NOTIFY) {
                    notify = (int) cfg(found, at + 8, 4);
                }
            }
            long c = bar + common;
            buses.mmio().write(c + 0x14, 1, 1 | 2);
            buses.mmio().write(c + 0x08, 4, 1);
            buses.mmio().write(c + 0x0c, 4, 1); // VERSION_1
            buses.mmio().write(c + 0x14, 1, 1 | 2 | 8);
            assertThat(buses.mmio().read(c + 0x14, 1) & 8).isEqualTo(8);
            GuestQueue q = new GuestQueue(memory, 16, 0x1_0000, 0x2_0000, 0x3_0000);
            buses.mmio().write(c + 0x16, 2, 0);
            buses.mmio().write(c + 0x18, 2, 16);
            buses.mmio().write(c + 0x20, 8, q.desc);
            buses.mmio().write(c + 0x28, 8, q.avail);
            buses.mmio().write(c + 0x30, 8, q.used);
            buses.mmio().write(c + 0x1c, 2, 1);
            buses.mmio().write(c + 0x14, 1, 1 | 2 | 8 | 4);
            assertThat(buses.mmio().read(c + 0x14, 1)).isEqualTo(1 | 2 | 8 | 4);

            q.descriptor(0, 0x10_0000, 32, VirtQueue.DESC_F_WRITE, 0);
            q.offer(0);
            long notifyOff = buses.mmio().read(c + 0x1e, 2);
            buses.mmio().write(bar + notify + notifyOff * VirtioPciDevice.NOTIFY_MULTIPLIER, 2, 0);
            assertThat(q.usedIdx()).isEqualTo(1);
            assertThat(q.usedLen(0)).isEqualTo(32);
        }
    }
}
