package dev.nimbus.vmm.config;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The whole configuration of one VM, from the command line ({@link CommandLineConfig}) or the REST API's
 * {@code vm.create} ({@link VmConfigJson}): both read each {@link Section} of the {@link Schema} into
 * {@link Values} and build the records through {@link #from}. Shaped after Cloud Hypervisor's
 * {@code VmConfig}.
 */
public record VmConfig(CpusConfig cpus, MemoryConfig memory, PayloadConfig payload, ConsoleConfig serial,
                       ConsoleConfig console, List<DiskConfig> disks, List<NetConfig> nets, Optional<RngConfig> rng,
                       PlatformConfig platform, LandlockConfig landlock) {
    /** A configuration with the default platform (a Nimbus machine) and without Landlock. */
    public VmConfig(CpusConfig cpus, MemoryConfig memory, PayloadConfig payload, ConsoleConfig serial, ConsoleConfig console,
                    List<DiskConfig> disks, List<NetConfig> nets, Optional<RngConfig> rng) {
        this(cpus, memory, payload, serial, console, disks, nets, rng, PlatformConfig.DEFAULT, LandlockConfig.OFF);
    }

    /** A configuration without disks, network or rng. */
    public VmConfig(CpusConfig cpus, MemoryConfig memory, PayloadConfig payload, ConsoleConfig serial, ConsoleConfig console) {
        this(cpus, memory, payload, serial, console, List.of(), List.of(), Optional.empty());
    }


    public VmConfig {
        disks = List.copyOf(disks);
        nets = List.copyOf(nets);
        Objects.requireNonNull(rng, "rng");
        Objects.requireNonNull(landlock, "landlock");
        Objects.requireNonNull(cpus, "cpus");
        Objects.requireNonNull(memory, "memory");
        Objects.requireNonNull(payload, "payload");
        Objects.requireNonNull(serial, "serial");
        Objects.requireNonNull(console, "console");
        Objects.requireNonNull(platform, "platform");
    }

    /**
     * This configuration with other consoles. The embedding API puts both consoles in mode tty on its own
     * streams, which {@link #from} refuses for the command line and the REST API, where tty is the one terminal.
     */
    public VmConfig withConsoles(ConsoleConfig serial, ConsoleConfig console) {
        return new VmConfig(cpus, memory, payload, serial, console, disks, nets, rng, platform, landlock);
    }

    /**
     * This configuration as vm.info reports it once the machine runs: a console on a pseudo-terminal names
     * the pty it got as its file, as Cloud Hypervisor does (empty: no pty).
     */
    public VmConfig withPtys(Optional<Path> serialPty, Optional<Path> consolePty) {
        ConsoleConfig s = serialPty.isPresent() && serial.mode() == ConsoleConfig.Mode.PTY ? new ConsoleConfig(serial.mode(), serialPty) : serial;
        ConsoleConfig c = consolePty.isPresent() && console.mode() == ConsoleConfig.Mode.PTY ? new ConsoleConfig(console.mode(), consolePty) : console;
        return new VmConfig(cpus, memory, payload, s, c, disks, nets, rng, platform, landlock);
    }

    /**
     * Builds the configuration from the sections a front end read (absent ones take Cloud Hypervisor's
     * defaults), with the checks across sections. The payload is required.
     */
    static VmConfig from(Map<Section, List<Values>> given) throws ConfigException {
        List<Values> payload = given.getOrDefault(Schema.PAYLOAD, List.of());
        if (payload.isEmpty()) {
            throw new ConfigException("payload: required (payload.kernel names the kernel to boot)");
        }
        CpusConfig cpus = CpusConfig.DEFAULT;
        for (Values v : given.getOrDefault(Schema.CPUS, List.of())) {
            cpus = CpusConfig.from(v);
        }
        MemoryConfig memory = MemoryConfig.DEFAULT;
        for (Values v : given.getOrDefault(Schema.MEMORY, List.of())) {
            memory = MemoryConfig.from(v);
        }
        ConsoleConfig serial = ConsoleConfig.of(ConsoleConfig.Mode.NULL);
        for (Values v : given.getOrDefault(Schema.SERIAL, List.of())) {
            serial = ConsoleConfig.from(v);
        }
        ConsoleConfig console = ConsoleConfig.of(ConsoleConfig.Mode.TTY);
        for (Values v : given.getOrDefault(Schema.CONSOLE, List.of())) {
            console = ConsoleConfig.from(v);
        }
        if (serial.mode() == ConsoleConfig.Mode.TTY && console.mode() == ConsoleConfig.Mode.TTY) {
            boolean json = payload.getFirst().isJson();
            throw new ConfigException(json
                    ? "serial.mode and console.mode: only one of them can be Tty (console is Tty unless given)"
                    : "--serial tty and --console tty: only one of them can have the terminal (set the other to off, "
                            + "null or file=PATH; --console is tty unless given)");
        }
        List<DiskConfig> disks = new ArrayList<>();
        for (Values v : given.getOrDefault(Schema.DISK, List.of())) {
            disks.add(DiskConfig.from(v));
        }
        List<NetConfig> nets = new ArrayList<>();
        for (Values v : given.getOrDefault(Schema.NET, List.of())) {
            nets.add(NetConfig.from(v));
        }
        Optional<RngConfig> rng = Optional.empty();
        for (Values v : given.getOrDefault(Schema.RNG, List.of())) {
            rng = Optional.of(RngConfig.from(v));
        }
        PlatformConfig platform = PlatformConfig.DEFAULT;
        for (Values v : given.getOrDefault(Schema.PLATFORM, List.of())) {
            platform = PlatformConfig.from(v);
        }
        LandlockConfig landlock = LandlockConfig.from(given.getOrDefault(Schema.LANDLOCK, List.of()),
                given.getOrDefault(Schema.LANDLOCK_RULES, List.of()));
        return new VmConfig(cpus, memory, PayloadConfig.from(payload.getFirst()), serial, console, disks, nets, rng, platform,
                landlock);
    }
}
