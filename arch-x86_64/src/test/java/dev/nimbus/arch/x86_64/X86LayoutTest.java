package dev.nimbus.arch.x86_64;

import dev.nimbus.arch.x86_64.boot.E820Entry;
import dev.nimbus.hypervisor.arch.MachineLayout;
import dev.nimbus.hypervisor.memory.AddressRange;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.nimbus.arch.x86_64.X86Layout.GIB;
import static dev.nimbus.arch.x86_64.X86Layout.MIB;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class X86LayoutTest {
    final X86_64Platform platform = new X86_64Platform();

    @Test
    void ramBelowThreeGibIsOneRegionFromZero() {
        assertThat(platform.layout(512 * MIB).ram()).containsExactly(new AddressRange(0, 512 * MIB));
    }

    @Test
    void ramBeyondThreeGibContinuesAtFourGib() {
        MachineLayout l = platform.layout(5 * GIB);
        assertThat(l.ram()).containsExactly(new AddressRange(0, 3 * GIB), new AddressRange(4 * GIB, 2 * GIB));
        assertThat(l.ramSize()).isEqualTo(5 * GIB);
    }

    @Test
    void deviceHoleHoldsMmio32EcamIoapicLapicAndKvmPages() {
        MachineLayout l = platform.layout(8 * GIB);
        AddressRange hole = new AddressRange(3 * GIB, GIB);
        assertThat(l.mmio32().base()).isEqualTo(3 * GIB);
        for (AddressRange r : List.of(l.mmio32(), l.pciEcam())) {
            assertThat(hole.contains(r.base()) && hole.contains(r.end() - 1)).as(r.toString()).isTrue();
        }
        assertThat(l.mmio32().overlaps(l.pciEcam())).isFalse();
        assertThat(l.reserved()).contains(new AddressRange(0xfec00000L, 0x1000), new AddressRange(0xfee00000L, 0x1000));
        assertThat(l.ram()).noneMatch(r -> r.overlaps(hole));
    }

    @Test
    void mmio64StartsAtTheFirstGibBoundaryAboveRam() {
        assertThat(platform.layout(512 * MIB).mmio64().base()).isEqualTo(4 * GIB);
        assertThat(platform.layout(5 * GIB + 4096).mmio64().base()).isEqualTo(7 * GIB);
    }

    @Test
    void nothingReservedOverlapsRamButTheFirmwareArea() {
        MachineLayout l = platform.layout(4 * GIB);
        AddressRange firmware = new AddressRange(X86Layout.ACPI_START, X86Layout.FIRMWARE_END - X86Layout.ACPI_START);
        assertThat(l.reserved()).contains(firmware);
        for (AddressRange r : l.reserved()) {
            if (!r.equals(firmware)) {
                assertThat(l.ram()).as(r.toString()).noneMatch(ram -> ram.overlaps(r));
            }
        }
    }

    @Test
    void kvmTssAndIdentityMapAreOutsideRamAndEverythingElse() {
        var chip = (dev.nimbus.hypervisor.IrqChipConfig.X86Legacy) platform.interruptController(platform.layout(GIB), 2);
        AddressRange tss = new AddressRange(chip.tssAddress(), 3 * 4096);
        AddressRange identity = new AddressRange(chip.identityMapAddress(), 4096);
        MachineLayout l = platform.layout(8 * GIB);
        for (AddressRange r : List.of(tss, identity)) {
            assertThat(r.end()).isLessThanOrEqualTo(4 * GIB);
            assertThat(l.ram()).noneMatch(ram -> ram.overlaps(r));
            assertThat(List.of(l.mmio32(), l.pciEcam(), new AddressRange(X86Layout.IOAPIC_ADDRESS, 4096),
                    new AddressRange(X86Layout.LAPIC_ADDRESS, 4096))).noneMatch(d -> d.overlaps(r));
        }
        assertThat(tss.overlaps(identity)).isFalse();
        assertThat(chip.pit()).isTrue();
    }

    @Test
    void e820MapsConventionalMemoryAndRamAboveOneMib() {
        List<E820Entry> map = E820Entry.of(platform.layout(5 * GIB));
        assertThat(map).contains(new E820Entry(0, 0xa0000, E820Entry.RAM),
                new E820Entry(0x100000, 3 * GIB - 0x100000, E820Entry.RAM),
                new E820Entry(4 * GIB, 2 * GIB, E820Entry.RAM),
                new E820Entry(0xe0000, 0x20000, E820Entry.RESERVED),
                new E820Entry(0xe000_0000L, 256 * MIB, E820Entry.RESERVED));
        assertThat(map).noneMatch(e -> e.type() == E820Entry.RAM && e.address() < 0x100000 && e.end() > 0xa0000);
        for (int i = 1; i < map.size(); i++) {
            assertThat(map.get(i).address()).as("sorted, no overlap").isGreaterThanOrEqualTo(map.get(i - 1).end());
        }
    }

    @Test
    void ramThatIsNoWholeNumberOfPagesIsRefused() {
        assertThatThrownBy(() -> platform.layout(64 * MIB + 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("x86_64 RAM must be a multiple of 4 KiB and at least 2 MiB, not 67108865 bytes");
        assertThatThrownBy(() -> platform.layout(MIB)).isInstanceOf(IllegalArgumentException.class);
    }
}
