package dev.nimbus.vmm.devices;

import dev.nimbus.host.DiskImage;
import dev.nimbus.host.Errno;
import dev.nimbus.host.SyscallException;
import dev.nimbus.host.net.Tap;
import dev.nimbus.vmm.config.ConfigException;
import dev.nimbus.vmm.config.ConsoleConfig;
import dev.nimbus.vmm.config.DiskConfig;
import dev.nimbus.vmm.config.Field;
import dev.nimbus.vmm.config.NetConfig;
import dev.nimbus.vmm.config.Schema;
import dev.nimbus.vmm.console.ConsoleHost;
import dev.nimbus.vmm.console.ConsoleOutput;
import dev.nimbus.vmm.console.PtyConsole;
import dev.nimbus.vmm.console.SocketConsole;

import java.io.IOException;
import java.io.OutputStream;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Opens the host side of devices: console output files, disk images and their locks, taps, the rng source.
 * Each is put into the machine's {@link Resources} the moment it is open, so a later failure releases it;
 * what cannot be had is a {@link ConfigException} that names the schema's field, so the command line says
 * {@code --disk path} and the REST API {@code disks[1].path}.
 */
final class HostResources {
    private HostResources() {}

    /**
     * Where a console's output goes ({@code fileField}: {@link Schema#SERIAL_FILE} or {@link Schema#CONSOLE_FILE}):
     * stdout for {@code tty}, the file for {@code file=PATH} (created or truncated), nowhere otherwise.
     */
    static OutputStream consoleOutput(Field<Path> fileField, ConsoleConfig config, ConsoleHost host,
                                      ConsoleHost.Which console, Resources resources) throws ConfigException {
        return switch (config.mode()) {
            case TTY -> {
                OutputStream out = host.output(console);
                resources.add(out::close);
                yield out;
            }
            case FILE -> {
                Path file = config.file().orElseThrow();
                try {
                    yield resources.add(ConsoleOutput.file(file));
                } catch (IOException e) {
                    throw new ConfigException(fileField, 0, "cannot write " + file + ": " + e.getMessage());
                }
            }
            default -> OutputStream.nullOutputStream();
        };
    }

    /** A Unix socket for a console in mode socket ({@code socketField} names it in a failure). */
    static SocketConsole socket(Field<Path> socketField, Path path, Resources resources) throws ConfigException {
        try {
            return resources.add(SocketConsole.listen(path));
        } catch (IOException e) {
            throw new ConfigException(socketField, 0, "cannot listen on " + path + ": " + e.getMessage());
        }
    }

    /** A pseudo-terminal for a console in mode pty ({@code modeField} names the console in a failure). */
    static PtyConsole pty(Field<?> modeField, Resources resources) throws ConfigException {
        try {
            return resources.add(PtyConsole.open());
        } catch (SyscallException e) {
            throw new ConfigException(modeField, 0, "cannot open a pseudo-terminal: " + e.getMessage());
        }
    }

    /**
     * The disk image, open for reading (and writing unless read-only), with {@code O_DIRECT} for
     * {@code direct=on}, and locked (an open file description lock): shared for a read-only disk, exclusive
     * otherwise, so two VMMs, or two disks of one, never write one image. {@code index}: which disk of the
     * list. A file system that cannot do direct I/O (tmpfs before Linux 6.6, some network file systems) is
     * refused naming {@code --disk direct}.
     */
    static DiskImage diskImage(DiskConfig disk, int index, Resources resources) throws ConfigException {
        if (Files.isDirectory(disk.path())) {
            throw new ConfigException(Schema.DISK_PATH, index, disk.path() + ": is a directory, not a disk image");
        }
        DiskImage image;
        try {
            image = resources.add(DiskImage.open(disk.path(), disk.readonly(), disk.direct()));
        } catch (SyscallException e) {
            throw diskOpenFailure(disk, index, e);
        }
        boolean locked;
        try {
            locked = image.tryLock();
        } catch (SyscallException e) {
            throw new ConfigException(Schema.DISK_PATH, index, disk.path() + ": cannot use the image: " + e.getMessage());
        }
        if (!locked) {
            throw new ConfigException(Schema.DISK_PATH, index, disk.path() + ": the image is in use by another process or disk");
        }
        return image;
    }

    /** What an image that does not open is, in the words of the field that is to blame. */
    static ConfigException diskOpenFailure(DiskConfig disk, int index, SyscallException e) {
        return switch (e.errno()) {
            case Errno.ENOENT -> new ConfigException(Schema.DISK_PATH, index, disk.path() + ": no such file");
            case Errno.EACCES, Errno.EPERM -> new ConfigException(Schema.DISK_PATH, index, disk.path() + ": permission denied");
            case Errno.EINVAL -> disk.direct()
                    ? new ConfigException(Schema.DISK_DIRECT, index, disk.path() + ": its file system does not support direct I/O"
                            + " (O_DIRECT); use direct=off for this image")
                    : new ConfigException(Schema.DISK_PATH, index, disk.path() + ": cannot open: " + e.getMessage());
            default -> new ConfigException(Schema.DISK_PATH, index, disk.path() + ": cannot open: " + e.getMessage());
        };
    }

    /** The rng's entropy source, open for reading. */
    static FileChannel rngSource(Path src, Resources resources) throws ConfigException {
        return resources.add(open(Schema.RNG_SRC, 0, src, StandardOpenOption.READ));
    }

    /**
     * The tap of {@code --net}: the named one (created, or attached if it exists) or a new {@code tap%d}, given
     * {@code ip}/{@code mask} when set (mask 255.255.255.0 by default) and brought up, in the VMM's network
     * namespace. {@code index}: which net of the list.
     */
    static Tap tap(NetConfig net, int index, Resources resources) throws ConfigException {
        Tap tap;
        try {
            tap = resources.add(Tap.open(net.tap().orElse("")));
        } catch (SyscallException | IllegalArgumentException e) {
            throw new ConfigException(Schema.NET_TAP, index, "'" + net.tap().orElse("") + "': " + e.getMessage());
        }
        try {
            if (net.ip().isPresent()) {
                tap.setAddress(ipv4(net.ip().get()), ipv4(net.mask().orElse("255.255.255.0")));
            }
            tap.up();
            return tap;
        } catch (SyscallException | IllegalArgumentException e) {
            throw new ConfigException(Schema.NET_TAP, index, "'" + tap.name() + "': " + e.getMessage());
        }
    }

    /** A dotted quad NetConfig has checked already (a literal: no name lookup). */
    private static Inet4Address ipv4(String dotted) {
        try {
            return (Inet4Address) InetAddress.getByName(dotted);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("not an IPv4 address: " + dotted);
        }
    }

    private static FileChannel open(Field<Path> field, int index, Path path, StandardOpenOption... options) throws ConfigException {
        try {
            return FileChannel.open(path, options);
        } catch (NoSuchFileException e) {
            throw new ConfigException(field, index, path + ": no such file");
        } catch (AccessDeniedException e) {
            throw new ConfigException(field, index, path + ": permission denied");
        } catch (IOException e) {
            throw new ConfigException(field, index, path + ": cannot open: " + e.getMessage());
        }
    }
}
