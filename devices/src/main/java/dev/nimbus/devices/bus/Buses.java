package dev.nimbus.devices.bus;

import dev.nimbus.hypervisor.VcpuExit;

/**
 * The port-I/O bus and the MMIO bus of one machine, and the dispatch of the four I/O exits to them, so the
 * VMM's exit loop stays a plain {@code switch}:
 *
 * <pre>{@code
 * switch (vcpu.run()) {
 *     case VcpuExit.IoIn in -> buses.handle(in);
 *     case VcpuExit.IoOut out -> buses.handle(out);
 *     case VcpuExit.MmioRead read -> buses.handle(read);
 *     case VcpuExit.MmioWrite write -> buses.handle(write);
 *     ...
 * }
 * }</pre>
 *
 * Handling an exit allocates nothing. A {@code rep ins}/{@code rep outs} exit is handled access by access.
 */
public final class Buses {
    private final Bus pio = new Bus(AddressSpace.PIO);
    private final Bus mmio = new Bus(AddressSpace.MMIO);

    public Bus pio() {
        return pio;
    }

    public Bus mmio() {
        return mmio;
    }

    /** The bus of {@code space}. */
    public Bus bus(AddressSpace space) {
        return space == AddressSpace.PIO ? pio : mmio;
    }

    /** Inserts {@code mapping} on the bus of its space. */
    public void insert(BusMapping mapping) {
        bus(mapping.space()).insert(mapping);
    }

    /** Inserts every mapping of {@code mappings}. */
    public void insertAll(Iterable<BusMapping> mappings) {
        for (BusMapping m : mappings) {
            insert(m);
        }
    }

    /** The guest read a port: the device's answer (all ones where there is none) goes back through the exit. */
    public void handle(VcpuExit.IoIn exit) {
        int port = exit.port();
        int size = exit.size();
        for (int i = 0, n = exit.count(); i < n; i++) {
            exit.respond(i, pio.read(port, size));
        }
    }

    /** The guest wrote a port. */
    public void handle(VcpuExit.IoOut exit) {
        int port = exit.port();
        int size = exit.size();
        for (int i = 0, n = exit.count(); i < n; i++) {
            pio.write(port, size, exit.value(i));
        }
    }

    /** The guest read an MMIO address. */
    public void handle(VcpuExit.MmioRead exit) {
        exit.respond(mmio.read(exit.address(), exit.size()));
    }

    /** The guest wrote an MMIO address. */
    public void handle(VcpuExit.MmioWrite exit) {
        mmio.write(exit.address(), exit.size(), exit.value());
    }
}
