package dev.nimbus.vmm.machine;

import dev.nimbus.devices.bus.Buses;
import dev.nimbus.devices.console.ConsoleInput;
import dev.nimbus.devices.interrupt.IrqChipLine;
import dev.nimbus.devices.platform.CreatedDevice;
import dev.nimbus.devices.platform.PlatformDeviceFactory;
import dev.nimbus.devices.platform.UnsupportedDeviceException;
import dev.nimbus.devices.power.PowerControl;
import dev.nimbus.hypervisor.IrqChip;
import dev.nimbus.hypervisor.arch.MachineLayout;
import dev.nimbus.hypervisor.arch.PlatformDevice;
import dev.nimbus.vmm.config.ConfigException;
import dev.nimbus.vmm.config.ConsoleConfig;
import dev.nimbus.vmm.config.VmConfig;
import dev.nimbus.vmm.console.ConsoleOutput;
import dev.nimbus.vmm.console.HostTerminal;

import javax.inject.Inject;
import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * Connects the platform devices of the arch's machine model to the user's configuration and the host:
 * which of them exist ({@code --serial off} removes the UART), where the serial port's output goes and
 * where its input comes from. The devices themselves come from the {@code devices} module's factory.
 */
public final class PlatformDeviceWiring {
    /** The devices made for one machine, and the host-side resources to release with it. */
    public record Wired(List<CreatedDevice> devices, List<AutoCloseable> resources) {}

    private final HostTerminal terminal;

    @Inject
    public PlatformDeviceWiring(HostTerminal terminal) {
        this.terminal = terminal;
    }

    /** The platform devices this configuration keeps. */
    public List<PlatformDevice> select(List<PlatformDevice> all, VmConfig config) {
        boolean serial = config.serial().mode() != ConsoleConfig.Mode.OFF;
        return all.stream().filter(d -> serial || !(d instanceof PlatformDevice.SerialPort)).toList();
    }

    /** Makes the devices, puts them on {@code buses}, and connects the serial port to the host. */
    public Wired attach(List<PlatformDevice> specs, MachineLayout layout, Buses buses, IrqChip irqChip, VmConfig config,
                        PowerControl power) throws ConfigException {
        List<AutoCloseable> resources = new ArrayList<>();
        try {
            OutputStream serialOut = serialOutput(config.serial(), resources);
            PlatformDeviceFactory factory = new PlatformDeviceFactory(PlatformDeviceFactory.Environment.onHostClocks(
                    gsi -> new IrqChipLine(irqChip, gsi), serialOut, power, layout));
            List<CreatedDevice> devices = factory.createAll(specs, buses);
            if (config.serial().mode() == ConsoleConfig.Mode.TTY) {
                // the serial port (whichever UART the arch has) takes the terminal's input
                for (CreatedDevice d : devices) {
                    if (d.spec() instanceof PlatformDevice.SerialPort && d.is(ConsoleInput.class)) {
                        resources.add(terminal.attach(d.device(ConsoleInput.class)));
                    }
                }
            }
            return new Wired(devices, resources);
        } catch (UnsupportedDeviceException e) {
            closeAll(resources);
            throw new ConfigException(e.getMessage());
        } catch (ConfigException | RuntimeException e) {
            closeAll(resources);
            throw e;
        }
    }

    private static OutputStream serialOutput(ConsoleConfig serial, List<AutoCloseable> resources) throws ConfigException {
        switch (serial.mode()) {
            case TTY -> {
                ConsoleOutput out = ConsoleOutput.stdout();
                resources.add(out);
                return out;
            }
            case FILE -> {
                try {
                    ConsoleOutput out = ConsoleOutput.file(serial.file().orElseThrow());
                    resources.add(out);
                    return out;
                } catch (IOException e) {
                    throw new ConfigException("--serial file: cannot write " + serial.file().orElseThrow() + ": " + e.getMessage());
                }
            }
            default -> {
                return OutputStream.nullOutputStream();
            }
        }
    }

    static void closeAll(List<AutoCloseable> resources) {
        for (AutoCloseable c : resources.reversed()) {
            try {
                c.close();
            } catch (Exception ignored) {
                // releasing host resources on the way out; nothing more to do
            }
        }
    }
}
