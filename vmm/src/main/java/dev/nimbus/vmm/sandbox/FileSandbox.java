package dev.nimbus.vmm.sandbox;

import dev.nimbus.host.Landlock;
import dev.nimbus.vmm.config.ConsoleConfig;
import dev.nimbus.vmm.config.DiskConfig;
import dev.nimbus.vmm.config.LandlockConfig;
import dev.nimbus.vmm.config.VmConfig;

import java.io.File;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * {@code --landlock}: the file-system access the VMM keeps once its VM is built, and its enforcement through
 * Landlock. What a configuration names (kernel and initramfs read; disks read, or read and write unless
 * read-only; console and serial files; the rng source; the devices a VM needs), what the process was started
 * with ({@link ProcessFiles}: the API socket's directory, the log file), what the JVM reads (its home, the
 * class path, {@code /proc}), and the user's {@code --landlock-rules}. Nothing else can be opened, made,
 * removed or renamed afterwards, by any thread that has joined (see {@link Landlock#joinEnforced()}).
 */
public final class FileSandbox {
    private static final System.Logger LOG = System.getLogger(FileSandbox.class.getName());

    /** One hierarchy (or file) and what may be done beneath it. */
    public record Grant(Path path, boolean read, boolean write, String why) {}

    /** What the process itself was given, beyond the VM's configuration. */
    public record ProcessFiles(Optional<Path> apiSocket, Optional<Path> logFile) {
        public static final ProcessFiles NONE = new ProcessFiles(Optional.empty(), Optional.empty());
    }

    private FileSandbox() {}

    /** Every grant for {@code config} in a process given {@code process}, existing paths or not. */
    public static List<Grant> grants(VmConfig config, ProcessFiles process) {
        List<Grant> g = new ArrayList<>();
        g.add(new Grant(config.payload().kernel(), true, false, "--kernel"));
        config.payload().initramfs().ifPresent(p -> g.add(new Grant(p, true, false, "--initramfs")));
        for (DiskConfig d : config.disks()) {
            g.add(new Grant(d.path(), true, !d.readonly(), "--disk path"));
        }
        console(g, config.serial(), "--serial");
        console(g, config.console(), "--console");
        if (!config.nets().isEmpty()) {
            g.add(new Grant(Path.of("/dev/net/tun"), true, true, "--net"));
        }
        config.rng().ifPresent(r -> g.add(new Grant(r.src(), true, false, "--rng src")));
        g.add(new Grant(Path.of("/dev/kvm"), true, true, "the hypervisor"));
        g.add(new Grant(Path.of("/dev/mshv"), true, true, "the hypervisor"));
        // the socket is removed at vmm.shutdown, from its directory
        process.apiSocket().ifPresent(s -> g.add(new Grant(s.toAbsolutePath().getParent(), true, true, "--api-socket")));
        process.logFile().ifPresent(l -> g.add(new Grant(l.toAbsolutePath(), true, true, "--log-file")));
        // the JVM loads classes, native libraries and time-zone data lazily, and reads /proc for its own state
        g.add(new Grant(Path.of(System.getProperty("java.home")), true, false, "the JVM (java.home)"));
        for (String entry : System.getProperty("java.class.path", "").split(File.pathSeparator)) {
            if (!entry.isEmpty()) {
                g.add(new Grant(Path.of(entry).toAbsolutePath(), true, false, "the JVM (class path)"));
            }
        }
        g.add(new Grant(Path.of("/proc"), true, false, "the JVM (/proc)"));
        g.add(new Grant(Path.of("/dev/urandom"), true, false, "the JVM (SecureRandom)"));
        g.add(new Grant(Path.of("/dev/null"), true, true, "the JVM"));
        for (LandlockConfig.Rule r : config.landlock().rules()) {
            g.add(new Grant(r.path(), r.read(), r.write(), "--landlock-rules"));
        }
        return g;
    }

    private static void console(List<Grant> g, ConsoleConfig c, String option) {
        switch (c.mode()) {
            case FILE -> c.file().ifPresent(f -> g.add(new Grant(f, true, true, option + " file")));
            // a reboot binds the socket again: its directory
            case SOCKET -> c.socket().ifPresent(s -> g.add(new Grant(s.toAbsolutePath().getParent(), true, true, option + " socket")));
            // a reboot opens a new pseudo-terminal
            case PTY -> {
                g.add(new Grant(Path.of("/dev/ptmx"), true, true, option + " pty"));
                g.add(new Grant(Path.of("/dev/pts"), true, true, option + " pty"));
            }
            default -> { }
        }
    }

    /**
     * Builds the ruleset of {@code config} and enforces it for the process from the calling thread (the
     * control thread, once the VM is built). Paths that do not exist are left out (a device this host has
     * not, a class path entry that is gone); a user's rule was checked to exist when it was read.
     */
    public static void enforce(VmConfig config, ProcessFiles process) {
        try (Landlock.Ruleset ruleset = Landlock.Ruleset.create()) {
            int abi = ruleset.abi();
            for (Grant grant : grants(config, process)) {
                if (!Files.exists(grant.path())) {
                    LOG.log(Level.DEBUG, "landlock: {0} ({1}) does not exist; not listed", grant.path(), grant.why());
                    continue;
                }
                long rights = (grant.read() ? Landlock.readRights(abi) : 0) | (grant.write() ? Landlock.writeRights(abi) : 0);
                ruleset.allow(grant.path(), rights);
                LOG.log(Level.DEBUG, "landlock: {0} {1} ({2})", grant.read() ? (grant.write() ? "rw" : "r") : "w",
                        grant.path(), grant.why());
            }
            Landlock.enforce(ruleset);
            LOG.log(Level.INFO, "landlock: enforced (ABI {0}); files outside the rules cannot be opened from now on", abi);
        }
    }
}
