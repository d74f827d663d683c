package dev.nimbus.vmm.snapshot;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.vmm.config.ConfigException;
import dev.nimbus.vmm.config.DiskConfig;
import dev.nimbus.vmm.config.NetConfig;
import dev.nimbus.vmm.config.VmConfig;
import dev.nimbus.vmm.config.VmConfigJson;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.OptionalLong;

/**
 * A snapshot on disk: one directory of four files.
 * <ul>
 *   <li>{@code snapshot.json}, the manifest: the format and its version, the Nimbus that wrote it, the
 *       architecture and hypervisor, the vCPU count, the guest clock, the size of each disk image, and for
 *       each other file its size and SHA-256 (the memory file: its size only);</li>
 *   <li>{@code config.json}, the VM's configuration as {@code vm.create} takes it;</li>
 *   <li>{@code state.bin}, the machine's state ({@link VmStateFile});</li>
 *   <li>{@code memory-ranges}, guest RAM, region after region, zero pages as holes (mapped back privately).</li>
 * </ul>
 * The manifest is written last, by rename, so a directory with a manifest holds a whole snapshot. Reading
 * checks everything that can be checked before a VM is made; docs/snapshot.md describes the format.
 */
public final class Snapshot {
    public static final String FORMAT = "nimbus-snapshot";
    /** The version of the manifest and of the directory's layout. */
    public static final int FORMAT_VERSION = 1;
    public static final String MANIFEST = "snapshot.json";
    public static final String CONFIG = "config.json";
    public static final String STATE = "state.bin";
    public static final String MEMORY = "memory-ranges";
    /** A machine's state is a few hundred KiB; more than this is not a state file of ours. */
    private static final long MAX_STATE = 256L << 20;
    private static final ObjectMapper JSON = JsonMapper.builder().build();

    private Snapshot() {}

    /** A disk image as it was when the snapshot was taken: restore refuses one whose size has changed. */
    public record DiskFile(Path path, long size) {}

    /** What a snapshot holds, read and checked. */
    public record Saved(Path directory, String nimbusVersion, String arch, String hypervisor, VmConfig config, VmStateFile state,
                        OptionalLong guestClock, List<AddressRange> ranges, List<DiskFile> disks, Path memoryFile) {}

    /** What a paused machine gives to be saved; the memory file is written by the caller into {@code directory}. */
    public record Contents(String nimbusVersion, String arch, String hypervisor, VmConfig config, VmStateFile state,
                           OptionalLong guestClock, List<AddressRange> ranges) {}

    /**
     * Checks that {@code directory} can take a snapshot: it exists or can be made, and holds no snapshot yet
     * (one is never overwritten).
     */
    public static void prepare(Path directory) throws SnapshotException {
        if (Files.exists(directory.resolve(MANIFEST))) {
            throw new SnapshotException("destination_url: " + directory + " already holds a snapshot (" + MANIFEST
                    + "); give an empty directory");
        }
        try {
            Files.createDirectories(directory);
        } catch (IOException e) {
            throw new SnapshotException("destination_url: cannot create " + directory + ": " + e, e);
        }
    }

    /** Writes the configuration, the state and, last, the manifest; the memory file must be in place already. */
    public static void write(Path directory, Contents c) throws SnapshotException {
        try {
            byte[] config = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(VmConfigJson.write(c.config()));
            byte[] state = c.state().encode();
            Files.write(directory.resolve(CONFIG), config);
            Files.write(directory.resolve(STATE), state);
            long memorySize = Files.size(directory.resolve(MEMORY));

            ObjectNode m = JSON.createObjectNode();
            m.put("format", FORMAT);
            m.put("format_version", FORMAT_VERSION);
            m.put("nimbus_version", c.nimbusVersion());
            m.put("created", Instant.now().toString());
            m.put("arch", c.arch());
            m.put("hypervisor", c.hypervisor());
            m.put("vcpus", c.state().vcpus().size());
            if (c.guestClock().isPresent()) {
                m.put("guest_clock_ns", c.guestClock().getAsLong());
            }
            ObjectNode mem = m.putObject("memory");
            mem.put("file", MEMORY);
            mem.put("size", memorySize);
            ArrayNode ranges = mem.putArray("ranges");
            for (AddressRange r : c.ranges()) {
                ranges.addObject().put("base", r.base()).put("size", r.size());
            }
            m.putObject("state").put("file", STATE).put("size", state.length).put("sha256", sha256(state));
            m.putObject("config").put("file", CONFIG).put("size", config.length).put("sha256", sha256(config));
            ArrayNode disks = m.putArray("disks");
            for (DiskConfig d : c.config().disks()) {
                disks.addObject().put("path", d.path().toString()).put("size", Files.size(d.path()));
            }
            Path tmp = directory.resolve(MANIFEST + ".tmp");
            Files.write(tmp, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(m));
            Files.move(tmp, directory.resolve(MANIFEST), StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new SnapshotException("destination_url: writing the snapshot into " + directory + " failed: " + e, e);
        }
    }

    /**
     * Reads the snapshot in {@code directory} and checks it whole: the manifest's format and version, each
     * file's presence, size and checksum, the configuration, the state's layout. Nothing on the host is
     * compared here ({@link #checkHost}).
     */
    public static Saved read(Path directory) throws SnapshotException {
        Path manifestFile = directory.resolve(MANIFEST);
        JsonNode m;
        try {
            m = JSON.readTree(Files.readAllBytes(manifestFile));
        } catch (NoSuchFileException e) {
            throw new SnapshotException("source_url: " + directory + " holds no snapshot (no " + MANIFEST + ")");
        } catch (IOException e) {
            throw new SnapshotException(manifestFile + ": not a readable manifest (truncated or corrupt): "
                    + e.getMessage().lines().findFirst().orElse(""), e);
        }
        if (m == null || !m.isObject()) {
            throw new SnapshotException(manifestFile + ": not a JSON object (truncated or corrupt)");
        }
        Manifest man = new Manifest(manifestFile, m);
        String format = man.text("format");
        if (!FORMAT.equals(format)) {
            throw new SnapshotException(manifestFile + ": format: '" + format + "' is not " + FORMAT);
        }
        long version = man.number("format_version");
        if (version != FORMAT_VERSION) {
            throw new SnapshotException(manifestFile + ": format_version " + version + " is not supported: this Nimbus ("
                    + dev.nimbus.vmm.Version.get() + ") reads version " + FORMAT_VERSION + "; the snapshot was written by Nimbus "
                    + (m.path("nimbus_version").isTextual() ? m.get("nimbus_version").asText() : "(unknown)"));
        }
        byte[] configBytes = man.file("config", directory);
        byte[] stateBytes = man.file("state", directory);
        if (stateBytes.length > MAX_STATE) {
            throw new SnapshotException(directory.resolve(STATE) + ": " + stateBytes.length + " bytes is too large for a machine state");
        }
        VmConfig config;
        try {
            config = VmConfigJson.read(JSON.readTree(configBytes));
        } catch (ConfigException e) {
            throw new SnapshotException(directory.resolve(CONFIG) + ": " + e.apiMessage(), e);
        } catch (IOException e) {
            throw new SnapshotException(directory.resolve(CONFIG) + ": not JSON: " + e.getMessage(), e);
        }
        VmStateFile state = VmStateFile.decode(stateBytes, directory.resolve(STATE).toString());
        long vcpus = man.number("vcpus");
        if (vcpus != state.vcpus().size() || vcpus != config.cpus().boot()) {
            throw new SnapshotException(manifestFile + ": vcpus " + vcpus + " does not match the state (" + state.vcpus().size()
                    + ") and the configuration (" + config.cpus().boot() + ")");
        }
        JsonNode mem = man.object("memory");
        List<AddressRange> ranges = new ArrayList<>();
        long total = 0;
        JsonNode rs = mem.path("ranges");
        if (!rs.isArray() || rs.isEmpty()) {
            throw new SnapshotException(manifestFile + ": memory.ranges: missing or empty");
        }
        for (JsonNode r : rs) {
            if (!r.path("base").canConvertToLong() || !r.path("size").canConvertToLong() || r.get("size").asLong() <= 0
                    || r.get("base").asLong() < 0) {
                throw new SnapshotException(manifestFile + ": memory.ranges: " + r + " is not {base, size}");
            }
            ranges.add(new AddressRange(r.get("base").asLong(), r.get("size").asLong()));
            total += r.get("size").asLong();
        }
        Path memoryFile = directory.resolve(MEMORY);
        long memorySize;
        try {
            memorySize = Files.size(memoryFile);
        } catch (IOException e) {
            throw new SnapshotException(memoryFile + ": missing (" + e.getMessage() + ")");
        }
        if (memorySize != total || !mem.path("size").canConvertToLong() || mem.get("size").asLong() != total) {
            throw new SnapshotException(memoryFile + ": " + memorySize + " bytes, but the snapshot's guest RAM is " + total
                    + " bytes (truncated or not this snapshot's)");
        }
        OptionalLong clock = m.has("guest_clock_ns") ? OptionalLong.of(man.number("guest_clock_ns")) : OptionalLong.empty();
        List<DiskFile> disks = new ArrayList<>();
        JsonNode ds = m.path("disks");
        if (!ds.isArray()) {
            throw new SnapshotException(manifestFile + ": disks: missing");
        }
        for (JsonNode d : ds) {
            if (!d.path("path").isTextual() || !d.path("size").canConvertToLong()) {
                throw new SnapshotException(manifestFile + ": disks: " + d + " is not {path, size}");
            }
            disks.add(new DiskFile(Path.of(d.get("path").asText()), d.get("size").asLong()));
        }
        if (disks.size() != config.disks().size()) {
            throw new SnapshotException(manifestFile + ": disks: " + disks.size() + " entries for " + config.disks().size() + " disks");
        }
        return new Saved(directory, m.path("nimbus_version").asText(""), man.text("arch"), man.text("hypervisor"), config, state,
                clock, List.copyOf(ranges), List.copyOf(disks), memoryFile);
    }

    /**
     * Compares the snapshot with this host before anything is made: the architecture and hypervisor, each
     * disk image's size, each named tap's existence. The message names the field and both sides.
     */
    public static void checkHost(Saved s, String arch, String hypervisor, Path sysClassNet) throws SnapshotException {
        if (!s.arch().equals(arch)) {
            throw new SnapshotException("the snapshot is of an " + s.arch() + " VM; this host is " + arch);
        }
        if (!s.hypervisor().equals(hypervisor)) {
            throw new SnapshotException("the snapshot was taken on " + s.hypervisor() + "; this VMM runs on " + hypervisor
                    + " (--hypervisor " + s.hypervisor() + " where that is usable)");
        }
        checkHostFiles(s, sysClassNet);
    }

    /**
     * The part of {@link #checkHost} that needs no hypervisor: each disk image's size, each named tap's
     * existence (the command line checks these before it chooses a backend, as it does all input).
     */
    public static void checkHostFiles(Saved s, Path sysClassNet) throws SnapshotException {
        for (int i = 0; i < s.disks().size(); i++) {
            DiskFile d = s.disks().get(i);
            long now;
            try {
                now = Files.size(d.path());
            } catch (IOException e) {
                throw new SnapshotException("disks[" + i + "].path: " + d.path() + " is missing (" + e.getMessage() + ")");
            }
            if (now != d.size()) {
                throw new SnapshotException("disks[" + i + "].path: " + d.path() + " is " + now + " bytes, but was " + d.size()
                        + " when the snapshot was taken: not the disk the guest had");
            }
        }
        List<NetConfig> nets = s.config().nets();
        for (int i = 0; i < nets.size(); i++) {
            String tap = nets.get(i).tap().orElse("");
            if (!tap.isEmpty() && !Files.exists(sysClassNet.resolve(tap))) {
                throw new SnapshotException("net[" + i + "].tap: '" + tap + "' does not exist on this host; the restored guest's"
                        + " network needs it (create it, e.g. ip tuntap add " + tap + " mode tap)");
            }
        }
    }

    static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The manifest's fields, each missing or mistyped one an error naming it. */
    private record Manifest(Path file, JsonNode root) {
        String text(String field) throws SnapshotException {
            JsonNode n = root.path(field);
            if (!n.isTextual()) {
                throw new SnapshotException(file + ": " + field + ": missing or not a string");
            }
            return n.asText();
        }

        long number(String field) throws SnapshotException {
            JsonNode n = root.path(field);
            if (!n.isIntegralNumber() || !n.canConvertToLong()) {
                throw new SnapshotException(file + ": " + field + ": missing or not an integer");
            }
            return n.asLong();
        }

        JsonNode object(String field) throws SnapshotException {
            JsonNode n = root.path(field);
            if (!n.isObject()) {
                throw new SnapshotException(file + ": " + field + ": missing or not an object");
            }
            return n;
        }

        /** The bytes of the file entry {@code field} names, checked against its size and SHA-256. */
        byte[] file(String field, Path directory) throws SnapshotException {
            JsonNode e = object(field);
            if (!e.path("file").isTextual() || !e.path("size").canConvertToLong() || !e.path("sha256").isTextual()) {
                throw new SnapshotException(file + ": " + field + ": not {file, size, sha256}");
            }
            String name = e.get("file").asText();
            if (name.contains("/") || name.startsWith(".")) {
                throw new SnapshotException(file + ": " + field + ".file: '" + name + "' is not a file of the snapshot's directory");
            }
            Path p = directory.resolve(name);
            byte[] bytes;
            try {
                if (Files.size(p) > MAX_STATE) {
                    throw new SnapshotException(p + ": " + Files.size(p) + " bytes is too large");
                }
                bytes = Files.readAllBytes(p);
            } catch (IOException x) {
                throw new SnapshotException(p + ": missing (" + x.getMessage() + ")");
            }
            if (bytes.length != e.get("size").asLong()) {
                throw new SnapshotException(p + ": " + bytes.length + " bytes, the manifest says " + e.get("size").asLong()
                        + " (truncated or changed)");
            }
            if (!sha256(bytes).equals(e.get("sha256").asText())) {
                throw new SnapshotException(p + ": its SHA-256 is not the manifest's (corrupt or changed)");
            }
            return bytes;
        }
    }
}
