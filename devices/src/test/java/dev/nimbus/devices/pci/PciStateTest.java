package dev.nimbus.devices.pci;

import dev.nimbus.devices.bus.Buses;
import dev.nimbus.devices.state.DeviceState;
import dev.nimbus.devices.state.DeviceStateException;
import dev.nimbus.devices.testing.RecordingMsiRouting;
import dev.nimbus.hypervisor.MsiMessage;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static dev.nimbus.devices.pci.PciRootTest.MMIO32;
import static dev.nimbus.devices.pci.PciRootTest.MMIO64;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The PCI bus's saved state (each function's configuration space) and MSI-X's (table, PBA, enable and mask):
 * restored into a freshly built bus, the BARs are decoded where the guest had moved them, the VMM is told as
 * for a guest's move, and the vectors that can fire are routed again before anything fires.
 */
class PciStateTest {
    /** A machine's bus: a fresh one per build, BAR moves recorded as the VMM's listener would see them. */
    static final class Machine {
        final Buses buses = new Buses();
        final List<long[]> moves = new ArrayList<>();
        final PciRoot root = new PciRoot(buses.mmio(), new PciBarAllocator(MMIO32, MMIO64),
                (slot, device, bar, oldBase, newBase) -> moves.add(new long[] {slot, bar, oldBase, newBase}));
        final PciRootTest.TestFunction function = new PciRootTest.TestFunction();
        final int slot = root.add(function);

        void config(int register, int size, long value) {
            root.configWrite(0, slot, 0, register, size, value);
        }
    }

    @Test
    void aRestoredBusDecodesTheBarsWhereTheGuestMovedThemAndTellsTheListener() {
        Machine saved = new Machine();
        long moved32 = 0xd000_0000L;
        long moved64 = 0x2_0000_0000L;
        saved.config(0x10, 4, moved32);
        saved.config(0x18, 4, moved64 & 0xffff_ffffL);
        saved.config(0x1c, 4, moved64 >>> 32);
        saved.config(0x3c, 1, 11); // interrupt line
        saved.config(0x04, 2, PciConfigSpace.COMMAND_MEMORY | PciConfigSpace.COMMAND_BUS_MASTER);
        DeviceState state = saved.root.saveState();
        Machine fresh = new Machine();

        fresh.root.restoreState(state);

        assertThat(fresh.buses.mmio().read(moved32 + 0x24, 4)).isEqualTo(0x24L);
        assertThat(fresh.buses.mmio().read(moved64 + 0x100, 4)).isEqualTo(0x100L);
        assertThat(fresh.root.mappedBase(fresh.slot, 0)).isEqualTo(moved32);
        assertThat(fresh.moves).extracting(m -> List.of(m[0], m[1], m[2], m[3]))
                .containsExactly(List.of((long) fresh.slot, 0L, -1L, moved32), List.of((long) fresh.slot, 2L, -1L, moved64));
        for (int register = 0; register < PciConfigSpace.SIZE; register += 4) {
            assertThat(fresh.root.configRead(0, fresh.slot, 0, register, 4)).as("register 0x%x", register)
                    .isEqualTo(saved.root.configRead(0, saved.slot, 0, register, 4));
        }
    }

    @Test
    void aBusWithDecodingOffRestoresItsAddressesUnmapped() {
        Machine saved = new Machine();
        saved.config(0x10, 4, 0xd000_0000L);
        Machine fresh = new Machine();

        fresh.root.restoreState(saved.root.saveState());

        assertThat(fresh.root.mappedBase(fresh.slot, 0)).isEqualTo(-1);
        assertThat(fresh.moves).isEmpty();
        fresh.config(0x04, 2, PciConfigSpace.COMMAND_MEMORY); // the guest turns decoding on: the restored address
        assertThat(fresh.root.mappedBase(fresh.slot, 0)).isEqualTo(0xd000_0000L);
    }

    @Test
    void aStateOfAnotherFunctionOrAnotherSlotLayoutIsRefusedAndChangesNothing() {
        Machine saved = new Machine();
        saved.config(0x04, 2, PciConfigSpace.COMMAND_MEMORY);
        byte[] d = saved.root.saveState().data();
        byte[] otherDevice = d.clone();
        otherDevice[1 + 1 + 256 + 1 + 2] = 0x79; // slot 1's device ID: 0x5679
        byte[] extraSlot = d.clone();
        extraSlot[0] = 3;
        Machine fresh = new Machine();
        Machine emptyBus = new Machine();
        emptyBus.root.add(new PciRootTest.TestFunction()); // a third function

        assertThatThrownBy(() -> fresh.root.restoreState(new DeviceState(PciRoot.STATE_ID, 1, otherDevice)))
                .isInstanceOf(DeviceStateException.class).hasMessageContaining("slot 1").hasMessageContaining("byte 0x02");
        assertThatThrownBy(() -> fresh.root.restoreState(new DeviceState(PciRoot.STATE_ID, 1, extraSlot)))
                .isInstanceOf(DeviceStateException.class).hasMessageContaining("ends inside");
        assertThatThrownBy(() -> emptyBus.root.restoreState(saved.root.saveState()))
                .isInstanceOf(DeviceStateException.class).hasMessageContaining("slot 2").hasMessageContaining("missing");
        assertThat(fresh.root.mappedBase(fresh.slot, 0)).isEqualTo(-1);
        assertThat(fresh.root.configRead(0, fresh.slot, 0, 0x04, 2)).isZero();
    }

    // ---- MSI-X ----

    static final class Function {
        final PciConfigSpace config = new PciConfigSpace(0x1af4, 0x1044, 0xff0000, 1, 0x1af4, 0x44);
        final RecordingMsiRouting routing = new RecordingMsiRouting();
        final MsixCapability msix = new MsixCapability(config, 3, 0, 0x4000, 0x6000, routing, 0x18);

        void program(int vector, long address, int data, boolean masked) {
            msix.writeTable(vector * 16, 4, address & 0xffff_ffffL);
            msix.writeTable(vector * 16 + 4, 4, address >>> 32);
            msix.writeTable(vector * 16 + 8, 4, data);
            msix.writeTable(vector * 16 + 12, 4, masked ? 1 : 0);
        }

        void control(int value) {
            config.write(msix.offset() + 2, 2, value);
            msix.configWritten(msix.offset() + 2, 2);
        }
    }

    /** Vectors 0 and 2 programmed; 0 unmasked and fired, 2 masked with a signal pending. */
    static Function programmed() {
        Function f = new Function();
        f.control(MsixCapability.CONTROL_ENABLE);
        f.program(0, 0xfee0_1000L, 0x4041, false);
        f.program(2, 0xfee0_2000L, 0x4043, true);
        f.msix.vector(0).signal();
        f.msix.vector(2).signal();
        return f;
    }

    @Test
    void aRestoredCapabilityRoutesItsLiveVectorsAtOnceAndDeliversPendingOnesWhenUnmasked() {
        DeviceState state = programmed().msix.saveState();
        Function fresh = new Function();

        fresh.msix.restoreState(state);

        assertThat(fresh.routing.route(0)).as("routed before any signal").isEqualTo(new MsiMessage(0xfee0_1000L, 0x4041, 0x18));
        assertThat(fresh.routing.route(2)).as("masked: routed at its first delivery").isNull();
        assertThat(fresh.routing.signals()).isEmpty();
        assertThat(fresh.msix.enabled()).isTrue();
        assertThat(fresh.config.get16(fresh.msix.offset() + 2) & MsixCapability.CONTROL_ENABLE).isNotZero();
        assertThat(fresh.msix.pending(2)).isTrue();
        assertThat(fresh.msix.readTable(2 * 16 + 8, 4)).isEqualTo(0x4043L);

        fresh.msix.vector(0).signal();
        fresh.msix.writeTable(2 * 16 + 12, 4, 0); // the guest unmasks vector 2: its pending signal goes out
        assertThat(fresh.routing.signals()).containsExactly(0, 2);
        assertThat(fresh.routing.route(2)).isEqualTo(new MsiMessage(0xfee0_2000L, 0x4043, 0x18));
    }

    @Test
    void configurationSpaceRestoredAfterTheTableRoutesTheVectorsThen() {
        Function saved = programmed();
        Function fresh = new Function();
        byte[] disabled = saved.msix.saveState().data();
        disabled[2] = 0; // the capability's own record says disabled; the configuration space says enabled
        fresh.msix.restoreState(new DeviceState(MsixCapability.STATE_ID, 1, disabled));
        assertThat(fresh.routing.route(0)).isNull();

        fresh.config.restoreWritable(saved.config.bytes());
        fresh.msix.configRestored();

        assertThat(fresh.routing.route(0)).isEqualTo(new MsiMessage(0xfee0_1000L, 0x4041, 0x18));
    }

    @Test
    void anMsixStateOfAnotherSizeOrWithReservedBitsIsRefusedAndChangesNothing() {
        byte[] d = programmed().msix.saveState().data();
        byte[] reserved = d.clone();
        reserved[3 + 12] = 3; // vector 0's control: bit 1 is reserved
        byte[] otherCount = d.clone();
        otherCount[0] = 4;
        Function fresh = new Function();

        assertThatThrownBy(() -> fresh.msix.restoreState(new DeviceState(MsixCapability.STATE_ID, 1, reserved)))
                .isInstanceOf(DeviceStateException.class).hasMessageContaining("vector 0");
        assertThatThrownBy(() -> fresh.msix.restoreState(new DeviceState(MsixCapability.STATE_ID, 1, otherCount)))
                .isInstanceOf(DeviceStateException.class).hasMessageContaining("vector count");
        assertThat(fresh.msix.enabled()).isFalse();
        assertThat(fresh.msix.readTable(12, 4)).isEqualTo(1L);
        assertThat(fresh.routing.route(0)).isNull();
    }
}
