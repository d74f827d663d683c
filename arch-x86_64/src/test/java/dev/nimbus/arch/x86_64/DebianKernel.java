package dev.nimbus.arch.x86_64;

import dev.nimbus.testsupport.HostTools;
import dev.nimbus.arch.x86_64.boot.BzImage;
import org.tukaani.xz.SingleXZInputStream;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The Debian bookworm kernel the loaders are tested against: the package {@code linux-image-amd64}
 * depends on, downloaded once with {@code apt-get download} into {@code ${NIMBUS_CACHE:-~/.cache/nimbus}/kernels}
 * and unpacked there ({@code boot/} only). {@link #vmlinux()} is the ELF kernel inside the bzImage,
 * decompressed from its XZ payload.
 */
public final class DebianKernel {
    private DebianKernel() {}

    private static final Pattern DEPENDS = Pattern.compile("Depends: (linux-image-(\\d[^\\s]*-amd64))");

    public static Path cache() {
        String env = System.getenv("NIMBUS_CACHE");
        Path base = env != null && !env.isEmpty() ? Path.of(env) : Path.of(System.getProperty("user.home"), ".cache", "nimbus");
        return base.resolve("kernels");
    }

    /** The bzImage, {@code boot/vmlinuz-<version>}. */
    public static synchronized Path bzImage() throws IOException {
        Path dir = cache();
        Files.createDirectories(dir);
        try (FileChannel lockFile = FileChannel.open(dir.resolve(".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            FileLock lock = lockFile.lock(); // released when the channel closes
            String[] pkg = packageName(dir);
            Path unpacked = dir.resolve(pkg[0]);
            Path vmlinuz = unpacked.resolve("boot/vmlinuz-" + pkg[1]);
            if (Files.isRegularFile(vmlinuz)) {
                return vmlinuz;
            }
            Path deb;
            try (Stream<Path> s = Files.list(dir)) {
                deb = s.filter(p -> p.getFileName().toString().startsWith(pkg[0] + "_") && p.toString().endsWith(".deb"))
                        .findFirst().orElse(null);
            }
            if (deb == null) {
                HostTools.run(dir, List.of("apt-get", "download", pkg[0]));
                try (Stream<Path> s = Files.list(dir)) {
                    deb = s.filter(p -> p.getFileName().toString().startsWith(pkg[0] + "_") && p.toString().endsWith(".deb"))
                            .findFirst().orElseThrow(() -> new IOException("apt-get download " + pkg[0] + " left no .deb in " + dir));
                }
            }
            Path tmp = Files.createTempDirectory(dir, "unpack");
            HostTools.run(dir, List.of("sh", "-c", "dpkg-deb --fsys-tarfile \"$1\" | tar -x -C \"$2\" ./boot", "unpack",
                    deb.toString(), tmp.toString()));
            Files.move(tmp, unpacked, StandardCopyOption.ATOMIC_MOVE);
            Files.delete(deb); // the modules are not needed: keep only boot/
            return vmlinuz;
        }
    }

    /** The ELF vmlinux inside the bzImage (with the relocation table the build appends to it). */
    public static synchronized Path vmlinux() throws Exception {
        Path bz = bzImage();
        Path elf = bz.resolveSibling(bz.getFileName().toString().replace("vmlinuz", "vmlinux"));
        if (Files.isRegularFile(elf)) {
            return elf;
        }
        byte[] file = Files.readAllBytes(bz);
        BzImage image = BzImage.parse(bz.toString(), Arrays.copyOf(file, BzImage.PROBE_BYTES), file.length);
        int start = (int) (image.setupBytes() + image.payloadOffset());
        // the payload is one XZ stream followed by the decompressed size (4 bytes), which is not a stream
        Path tmp = Files.createTempFile(elf.getParent(), "vmlinux", ".tmp");
        try (InputStream in = new SingleXZInputStream(new ByteArrayInputStream(file, start, (int) image.payloadLength()));
             OutputStream out = Files.newOutputStream(tmp)) {
            in.transferTo(out);
        }
        Files.move(tmp, elf, StandardCopyOption.ATOMIC_MOVE);
        return elf;
    }

    /** {package, version} of the kernel linux-image-amd64 depends on, asking apt (updating its lists if needed). */
    private static String[] packageName(Path dir) throws IOException {
        for (int attempt = 0; attempt < 2; attempt++) {
            HostTools.Result r = HostTools.runAllowingFailure(dir, List.of("apt-cache", "depends", "linux-image-amd64"));
            Matcher m = DEPENDS.matcher(r.output());
            if (r.exit() == 0 && m.find()) {
                return new String[] {m.group(1), m.group(2)};
            }
            HostTools.runAllowingFailure(dir, List.of("apt-get", "update"));
        }
        // no package lists and no network: use a kernel unpacked earlier, if there is one
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.matches("linux-image-\\d.*-amd64")).sorted()
                    .reduce((a, b) -> b).map(n -> new String[] {n, n.substring("linux-image-".length())})
                    .orElseThrow(() -> new IOException("apt-cache depends linux-image-amd64 names no kernel package"));
        }
    }
}
