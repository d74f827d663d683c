package dev.nimbus.devices.platform;

import dev.nimbus.devices.bus.AddressSpace;
import dev.nimbus.devices.bus.BusConflictException;
import dev.nimbus.devices.bus.BusMapping;
import dev.nimbus.devices.bus.Buses;
import dev.nimbus.devices.debug.DebugPort;
import dev.nimbus.devices.interrupt.ioapic.Ioapic;
import dev.nimbus.devices.power.GenericEventDevice;
import dev.nimbus.devices.ps2.I8042Controller;
import dev.nimbus.devices.rtc.CmosRtc;
import dev.nimbus.devices.serial.Serial16550;
import dev.nimbus.devices.testing.RecordingIrqLine;
import dev.nimbus.devices.testing.RecordingPowerControl;
import dev.nimbus.devices.testing.SettableClock;
import dev.nimbus.devices.time.Wakeups;
import dev.nimbus.hypervisor.arch.MachineLayout;
import dev.nimbus.hypervisor.arch.PlatformDevice;
import dev.nimbus.hypervisor.arch.PlatformDevice.RealTimeClock;
import dev.nimbus.hypervisor.arch.PlatformDevice.SerialPort;
import dev.nimbus.hypervisor.memory.AddressRange;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PlatformDeviceFactoryTest {
    // 3 GiB below the 32-bit hole and 1 GiB above 4 GiB.
    static final MachineLayout LAYOUT = new MachineLayout(
            List.of(new AddressRange(0, 3L << 30), new AddressRange(4L << 30, 1L << 30)),
            new AddressRange(0xc000_0000L, 0x3000_0000L), new AddressRange(5L << 30, 1L << 30),
            new AddressRange(0xe000_0000L, 0x1000_0000L), List.of());
    static final List<PlatformDevice> PC_DEVICES = List.of(
            new SerialPort(SerialPort.Model.UART_16550_PIO, 0x3f8, 4),
            new RealTimeClock(RealTimeClock.Model.CMOS, 0x70, 8),
            new PlatformDevice.I8042(0x60, 1),
            new PlatformDevice.DebugPort(0x80),
            new PlatformDevice.AcpiPowerControl(0x600));

    final Map<Integer, RecordingIrqLine> lines = new HashMap<>();
    final ByteArrayOutputStream console = new ByteArrayOutputStream();
    final RecordingPowerControl power = new RecordingPowerControl();
    final PlatformDeviceFactory factory = new PlatformDeviceFactory(new PlatformDeviceFactory.Environment(
            gsi -> lines.computeIfAbsent(gsi, g -> new RecordingIrqLine()), console, power,
            SettableClock.at("2026-11-24T13:45:07Z"), Wakeups.NONE, () -> 0L, 0L, LAYOUT));

    @Test
    void ioapicBecomesTheUserspaceIoapicOnItsMmioWindowSendingToTheOutput() {
        List<String> sent = new java.util.ArrayList<>();
        PlatformDeviceFactory withIoapic = new PlatformDeviceFactory(new PlatformDeviceFactory.Environment(
                gsi -> new RecordingIrqLine(), console, power, SettableClock.at("2026-11-24T13:45:07Z"), Wakeups.NONE, () -> 0L, 0L,
                LAYOUT, new Ioapic.Output() {
                    @Override
                    public void route(int pin, java.util.Optional<dev.nimbus.hypervisor.MsiMessage> message) {}

                    @Override
                    public void send(int pin, dev.nimbus.hypervisor.MsiMessage message) {
                        sent.add(pin + ":" + Integer.toHexString(message.data()));
                    }
                }));
        CreatedDevice d = withIoapic.create(new PlatformDevice.Ioapic(0xfec0_0000L, 2, 24));
        Ioapic ioapic = d.device(Ioapic.class);

        assertThat(d.mappings()).extracting(BusMapping::space, BusMapping::base, BusMapping::length)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(AddressSpace.MMIO, 0xfec0_0000L, 0x1000L));
        ioapic.write(Ioapic.IOREGSEL, 1, Ioapic.REG_ID);
        assertThat(ioapic.read(Ioapic.IOWIN, 4)).as("the id the firmware tables give").isEqualTo(0x0200_0000L);
        ioapic.write(Ioapic.IOREGSEL, 1, Ioapic.REG_REDIRECTION + 2 * 4);
        ioapic.write(Ioapic.IOWIN, 4, 0x24);
        ioapic.line(4).pulse();
        assertThat(sent).containsExactly("4:24");
    }

    @Test
    void ioapicWithoutAnOutputIsRefused() {
        assertThatThrownBy(() -> factory.create(new PlatformDevice.Ioapic(0xfec0_0000L, 2, 24)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("IOAPIC output");
    }

    @Test
    void pioSerialPortBecomesA16550OnEightPortsWithItsIrq() {
        CreatedDevice d = factory.create(new SerialPort(SerialPort.Model.UART_16550_PIO, 0x3f8, 4));

        assertThat(d.device()).isInstanceOf(Serial16550.class);
        assertThat(d.mappings()).singleElement().satisfies(m -> {
            assertThat(m.space()).isEqualTo(AddressSpace.PIO);
            assertThat(m.base()).isEqualTo(0x3f8);
            assertThat(m.length()).isEqualTo(8);
        });
        d.device(Serial16550.class).write(1, 1, 0x02); // IER: THR empty interrupt on
        assertThat(lines.get(4).high()).isTrue();
    }

    @Test
    void mmioSerialPortBecomesA16550OnTheMmioBus() {
        CreatedDevice d = factory.create(new SerialPort(SerialPort.Model.UART_16550_MMIO, 0x1000_0000L, 10));

        assertThat(d.mappings()).extracting(BusMapping::space).containsExactly(AddressSpace.MMIO);
    }

    @Test
    void cmosClockBecomesCmosRtcOnTwoPortsWithMemorySizes() {
        CreatedDevice d = factory.create(new RealTimeClock(RealTimeClock.Model.CMOS, 0x70, 8));
        CmosRtc rtc = d.device(CmosRtc.class);

        assertThat(d.mappings()).extracting(BusMapping::base, BusMapping::length).containsExactly(org.assertj.core.groups.Tuple.tuple(0x70L, 2L));
        assertThat(rtc.readRegister(0x35) << 8 | rtc.readRegister(0x34)).isEqualTo(0xbf00); // (3 GiB - 16 MiB) / 64 KiB
        assertThat(rtc.readRegister(0x5c) << 8 | rtc.readRegister(0x5b)).isEqualTo(0x4000); // 1 GiB / 64 KiB
    }

    @Test
    void i8042TakesPorts0x60And0x64AndLeavesThoseBetween() {
        Buses buses = new Buses();
        factory.create(new PlatformDevice.I8042(0x60, 1)).attachTo(buses);

        assertThat(buses.pio().deviceAt(0x60).name()).isEqualTo("i8042");
        assertThat(buses.pio().deviceAt(0x64).name()).isEqualTo("i8042");
        assertThat(buses.pio().deviceAt(0x61)).isNull();
        buses.pio().write(0x64, 1, 0xfe);
        assertThat(power.requests()).containsExactly("reset");
    }

    @Test
    void pcDevicesFitTogetherOnThePortBus() {
        Buses buses = new Buses();

        List<CreatedDevice> made = factory.createAll(PC_DEVICES, buses);

        assertThat(made).hasSize(5);
        assertThat(buses.pio().mappings()).extracting(BusMapping::base)
                .containsExactly(0x60L, 0x64L, 0x70L, 0x80L, 0x3f8L, 0x600L);
        assertThat(made.get(2).is(I8042Controller.class)).isTrue();
        assertThat(made.get(3).is(DebugPort.class)).isTrue();
    }

    @Test
    void guestBytesWrittenToCom1ReachTheConsole() {
        Buses buses = new Buses();
        factory.createAll(PC_DEVICES, buses);

        for (byte b : "boot\n".getBytes(StandardCharsets.US_ASCII)) {
            buses.pio().write(0x3f8, 1, b);
        }

        assertThat(console.toString(StandardCharsets.US_ASCII)).isEqualTo("boot\n");
    }

    @Test
    void acpiS5WriteThroughTheBusPowersOff() {
        Buses buses = new Buses();
        factory.createAll(PC_DEVICES, buses);

        buses.pio().write(0x600, 1, 0x34);

        assertThat(power.requests()).containsExactly("power off");
    }

    @Test
    void genericEventDeviceIsAFourByteMmioRegisterWhoseEventsRaiseItsGsi() {
        Buses buses = new Buses();
        CreatedDevice d = factory.create(new PlatformDevice.AcpiGenericEventDevice(0xfeb0_0000L, 23));
        d.attachTo(buses);

        assertThat(d.mappings()).extracting(BusMapping::space, BusMapping::base, BusMapping::length)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(AddressSpace.MMIO, 0xfeb0_0000L, 4L));
        d.device(GenericEventDevice.class).pressPowerButton();
        assertThat(lines.get(23).levels()).containsExactly(true, false);
        assertThat(buses.mmio().read(0xfeb0_0000L, 4)).isEqualTo(PlatformDevice.AcpiGenericEventDevice.POWER_BUTTON);
        assertThat(buses.mmio().read(0xfeb0_0000L, 4)).isZero();
    }

    @Test
    void twoDevicesOnOnePortAreRejected() {
        Buses buses = new Buses();

        assertThatThrownBy(() -> factory.createAll(List.of(
                new SerialPort(SerialPort.Model.UART_16550_PIO, 0x3f8, 4),
                new SerialPort(SerialPort.Model.UART_16550_PIO, 0x3f8, 3)), buses))
                .isInstanceOf(BusConflictException.class)
                .hasMessage("serial 16550A at ports 0x3f8-0x3ff overlaps serial 16550A at ports 0x3f8-0x3ff");
    }

    @Test
    void pl011BecomesAPl011OnA4KibMmioPage() {
        CreatedDevice d = factory.create(new SerialPort(SerialPort.Model.PL011, 0x0900_0000L, 33));

        assertThat(d.device()).isInstanceOf(dev.nimbus.devices.serial.Pl011.class);
        assertThat(d.mappings()).extracting(BusMapping::space, BusMapping::base, BusMapping::length)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(AddressSpace.MMIO, 0x0900_0000L, 0x1000L));
    }

    @Test
    void pl031AndGoldfishClocksTakeA4KibMmioPage() {
        CreatedDevice pl031 = factory.create(new RealTimeClock(RealTimeClock.Model.PL031, 0x0901_0000L, 34));
        CreatedDevice goldfish = factory.create(new RealTimeClock(RealTimeClock.Model.GOLDFISH, 0x101000L, 11));

        assertThat(pl031.device()).isInstanceOf(dev.nimbus.devices.rtc.Pl031Rtc.class);
        assertThat(pl031.mappings()).extracting(BusMapping::space, BusMapping::base, BusMapping::length)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(AddressSpace.MMIO, 0x0901_0000L, 0x1000L));
        assertThat(goldfish.device()).isInstanceOf(dev.nimbus.devices.rtc.GoldfishRtc.class);
        assertThat(goldfish.mappings()).extracting(BusMapping::space, BusMapping::base, BusMapping::length)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(AddressSpace.MMIO, 0x101000L, 0x1000L));
    }

    @Test
    void askingForTheWrongDeviceTypeNamesBoth() {
        CreatedDevice d = factory.create(new PlatformDevice.DebugPort(0x80));

        assertThatThrownBy(() -> d.device(Serial16550.class))
                .isInstanceOf(ClassCastException.class)
                .hasMessageContaining("was made as a DebugPort, not a Serial16550");
    }
}
