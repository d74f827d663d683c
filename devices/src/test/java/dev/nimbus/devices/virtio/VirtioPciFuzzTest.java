package dev.nimbus.devices.virtio;

import dev.nimbus.devices.testing.QuietLogs;
import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.nimbus.devices.bus.Bus;
import dev.nimbus.devices.bus.BusDevice;
import dev.nimbus.devices.bus.BusMapping;
import dev.nimbus.devices.bus.Buses;
import dev.nimbus.devices.pci.MsiRouting;
import dev.nimbus.devices.pci.PciBarAllocator;
import dev.nimbus.devices.pci.PciConfigIo;
import dev.nimbus.devices.pci.PciConfigSpace;
import dev.nimbus.devices.pci.PciEcam;
import dev.nimbus.devices.pci.PciRoot;
import dev.nimbus.devices.virtio.console.VirtioConsole;
import dev.nimbus.hypervisor.MsiMessage;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;

import java.io.OutputStream;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzz target for the virtio-pci transport as a guest reaches it: configuration space through ECAM and
 * ports 0xcf8/0xcfc (BARs, command register, the MSI-X and VIRTIO_PCI_CAP_PCI_CFG capabilities), BAR 0's
 * registers (common configuration, ISR, device configuration, notifications, MSI-X table and PBA) at any
 * offset and width, guest RAM under the queues, and queue processing, in whatever order the fuzzer picks.
 * The function is a virtio-console on the x86-64 machine's PCI windows, beside the ECAM window and a
 * fixed device standing for the rest of the machine's MMIO.
 *
 * <p>Invariants: nothing is thrown (the transport turns a broken queue into DEVICE_NEEDS_RESET); a
 * configuration read and a register read give no bits beyond their width; the MMIO bus's ranges stay
 * disjoint, with the ECAM window and the fixed device where they were; BAR 0 answers at one place at most
 * (a moved BAR leaves nothing behind), and is mapped exactly where its
 * register points while memory decoding is on, unless that range is taken or does not fit the address
 * space, and never while decoding is off; an MSI-X vector fires only while MSI-X is enabled, the function
 * not masked and the vector unmasked, after its message was configured.
 */
class VirtioPciFuzzTest {
    static final long RAM = 64 << 10;
    static final long ECAM = 0xe000_0000L;
    static final long FIXED = 0xfec0_0000L;
    static final long FIXED_SIZE = 0x1000;
    static final AddressRange MMIO32 = new AddressRange(0xc000_0000L, 512L << 20);
    static final AddressRange MMIO64 = new AddressRange(1L << 32, 64L << 30);
    /** Regions of BAR 0 the fuzzer aims at, so that short inputs reach each. */
    static final int[] REGIONS = {VirtioPciDevice.COMMON_OFFSET, VirtioPciDevice.ISR_OFFSET, VirtioPciDevice.DEVICE_CONFIG_OFFSET,
            VirtioPciDevice.NOTIFY_OFFSET, VirtioPciDevice.MSIX_TABLE_OFFSET, VirtioPciDevice.MSIX_PBA_OFFSET};


    @FuzzTest(maxDuration = "30s")
    void theTransportKeepsItsRegistersAndBarsInBounds(FuzzedDataProvider data) throws Exception {
        try (QuietLogs quiet = QuietLogs.during()) {
            try (GuestMemory memory = GuestMemory.allocate(List.of(new AddressRange(0, RAM)))) {
                Buses buses = new Buses();
                Bus mmio = buses.mmio();
                PciRoot root = new PciRoot(mmio, new PciBarAllocator(MMIO32, MMIO64), PciRoot.BarListener.NONE);
                VirtioPciDevice[] device = new VirtioPciDevice[1];
                MsiRouting routing = new MsiRouting() {
                    final boolean[] configured = new boolean[64];

                    @Override
                    public void configure(int vector, MsiMessage message) {
                        configured[vector] = true;
                    }

                    @Override
                    public void signal(int vector) {
                        var msix = device[0].msix();
                        assertThat(vector).as("vector signalled").isBetween(0, msix.vectorCount() - 1);
                        assertThat(configured[vector]).as("vector %d configured before it fires", vector).isTrue();
                        assertThat(msix.enabled()).as("MSI-X enabled when vector %d fires", vector).isTrue();
                        int control = device[0].config().get16(msix.offset() + 2);
                        assertThat(control & 0x4000).as("function mask when vector %d fires", vector).isZero();
                        assertThat(msix.readTable(vector * 16 + 12, 4) & 1).as("vector %d's mask when it fires", vector).isZero();
                    }
                };
                device[0] = new VirtioPciDevice(new VirtioConsole(OutputStream.nullOutputStream()), memory, routing, -1);
                int slot = root.add(device[0]);
                PciEcam ecam = new PciEcam(root, 0);
                mmio.insert(ECAM, ecam.size(), ecam);
                BusDevice fixed = new BusDevice() {
                    @Override
                    public long read(long offset, int size) {
                        return 0;
                    }

                    @Override
                    public void write(long offset, int size, long value) {
                    }
                };
                mmio.insert(FIXED, FIXED_SIZE, fixed);
                buses.pio().insert(PciConfigIo.BASE, PciConfigIo.PORTS, new PciConfigIo(root));
                BusDevice registers = device[0].bars().getFirst().region();
                long initial = device[0].config().barAddress(0, true);
                assertThat(initial).as("BAR 0 as assigned").isBetween(MMIO64.base(), MMIO64.end() - VirtioPciDevice.BAR_SIZE);

                for (int op = 0; op < 64 && data.remainingBytes() > 0; op++) {
                    int size = 1 << data.consumeInt(0, 2);
                    switch (data.consumeInt(0, 7)) {
                        case 0 -> { // configuration write through ECAM, mostly to our function
                            int dev = data.consumeBoolean() ? slot : data.consumeInt(0, 31);
                            int register = data.consumeBoolean() ? data.consumeInt(0, 0x3f) : data.consumeInt(0, 0xfff);
                            mmio.write(ECAM + ((long) dev << 15) + (register & ~(size - 1)), size, data.consumeLong());
                        }
                        case 1 -> { // configuration read
                            int register = data.consumeInt(0, 0xfff) & ~(size - 1);
                            long v = root.configRead(0, data.consumeBoolean() ? slot : data.consumeInt(0, 31), 0, register, size);
                            assertThat(v & ~Bus.allOnes(size)).as("bits beyond a %d-byte configuration read", size).isZero();
                        }
                        case 2 -> { // configuration access through ports 0xcf8/0xcfc
                            buses.pio().write(PciConfigIo.BASE, 4, 0x8000_0000L | (long) slot << 11 | data.consumeInt(0, 0xff));
                            int port = PciConfigIo.BASE + 4 + (data.consumeInt(0, 3) & ~(size - 1));
                            if (data.consumeBoolean()) {
                                buses.pio().write(port, size, data.consumeLong());
                            } else {
                                buses.pio().read(port, size);
                            }
                        }
                        case 3 -> { // register write, through the bus where BAR 0 is mapped, else straight
                            long offset = (REGIONS[data.consumeInt(0, REGIONS.length - 1)] + data.consumeInt(0, 0x7f)) & ~(size - 1);
                            long value = data.consumeLong();
                            long base = root.mappedBase(slot, 0);
                            if (base >= 0) {
                                mmio.write(base + offset, size, value);
                            } else {
                                registers.write(offset, size, value);
                            }
                        }
                        case 4 -> { // register read
                            long offset = (REGIONS[data.consumeInt(0, REGIONS.length - 1)] + data.consumeInt(0, 0x7f)) & ~(size - 1);
                            long v = registers.read(offset, size);
                            assertThat(v & ~Bus.allOnes(size)).as("bits beyond a %d-byte read at 0x%x", size, offset).isZero();
                        }
                        case 5 -> device[0].processQueue(data.consumeInt(0, 2));
                        case 6 -> memory.write(data.consumeInt(0, (int) RAM - 64), data.consumeBytes(64));
                        default -> device[0].configChanged();
                    }
                    checkBus(mmio, fixed);
                    checkBar0(root, slot, device[0].config(), mmio);
                }
            }
        }
    }

    /** The bus's ranges are disjoint and the fixed ones are where they were put. */
    static void checkBus(Bus mmio, BusDevice fixed) {
        List<BusMapping> ranges = mmio.mappings();
        for (int i = 1; i < ranges.size(); i++) {
            assertThat(ranges.get(i - 1).end()).as("MMIO ranges overlap: %s", ranges).isLessThanOrEqualTo(ranges.get(i).base());
        }
        assertThat(mmio.deviceAt(FIXED)).as("the fixed device").isSameAs(fixed);
        assertThat(mmio.deviceAt(FIXED + FIXED_SIZE - 1)).as("the fixed device's end").isSameAs(fixed);
        assertThat(mmio.deviceAt(ECAM)).as("the ECAM window").isInstanceOf(PciEcam.class);
    }

    /** BAR 0 is on the bus where its register says while decoding is on, unless that range cannot be had. */
    static void checkBar0(PciRoot root, int slot, PciConfigSpace config, Bus mmio) {
        boolean decode = (config.get16(PciConfigSpace.COMMAND) & PciConfigSpace.COMMAND_MEMORY) != 0;
        long address = config.barAddress(0, true);
        long mapped = root.mappedBase(slot, 0);
        String name = root.device(slot).name();
        List<Long> onTheBus = mmio.mappings().stream().filter(m -> m.device().name().equals(name)).map(BusMapping::base).toList();
        assertThat(onTheBus).as("where BAR 0 answers on the bus").isEqualTo(mapped < 0 ? List.of() : List.of(mapped));
        if (!decode || address == 0) {
            assertThat(mapped).as("BAR 0 mapped without memory decoding or address").isEqualTo(-1);
            return;
        }
        assertThat(address % VirtioPciDevice.BAR_SIZE).as("BAR 0 alignment").isZero();
        if (mapped >= 0) {
            assertThat(mapped).as("BAR 0 mapped at").isEqualTo(address);
            assertThat(mmio.deviceAt(mapped)).as("what answers at BAR 0").isNotNull();
            return;
        }
        boolean fits = address > 0 && address <= Long.MAX_VALUE - VirtioPciDevice.BAR_SIZE;
        boolean taken = mmio.mappings().stream()
                .anyMatch(m -> m.base() < address + VirtioPciDevice.BAR_SIZE && address < m.end());
        assertThat(!fits || taken).as("BAR 0 at 0x%x with decoding on is not mapped, yet the range is free", address).isTrue();
    }
}
