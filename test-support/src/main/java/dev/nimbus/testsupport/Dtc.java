package dev.nimbus.testsupport;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Debian's device tree compiler, run on blobs and sources the tests make (the AArch64 and riscv64 device trees, the FDT writer). */
public final class Dtc {
    private Dtc() {}

    public static void ensure() {
        HostTools.ensurePackages("device-tree-compiler");
    }

    /** {@code dtc -I dtb -O dts}: exit status, the source and dtc's warnings. */
    public static HostTools.Result decompile(Path dir, byte[] blob) throws IOException {
        Path dtb = Files.write(dir.resolve("in.dtb"), blob);
        return HostTools.runSeparately(List.of("dtc", "-I", "dtb", "-O", "dts", dtb.toString()));
    }

    /** {@code dtc -I dts -O dtb} of {@code source}: the blob dtc writes (dtc's messages fail the call). */
    public static byte[] compile(Path dir, String source) throws IOException {
        Path dts = Files.writeString(dir.resolve("in.dts"), source);
        Path dtb = dir.resolve("out.dtb");
        HostTools.Result r = HostTools.runSeparately(List.of("dtc", "-I", "dts", "-O", "dtb", "-o", dtb.toString(), dts.toString()));
        if (r.exit() != 0 || !r.err().isBlank()) {
            throw new IllegalStateException("dtc did not compile cleanly (exit " + r.exit() + "):\n" + r.err() + "\n" + source);
        }
        return Files.readAllBytes(dtb);
    }

    /**
     * {@code dtc -q -I dts -O dtb} of source that dtc decompiled: quiet, because a decompiled source
     * names phandles by number and dtc warns about that in source (not in the blob).
     */
    public static byte[] recompile(Path dir, String source) throws IOException {
        Path dts = Files.writeString(dir.resolve("again.dts"), source);
        Path dtb = dir.resolve("again.dtb");
        HostTools.Result r = HostTools.runSeparately(List.of("dtc", "-q", "-I", "dts", "-O", "dtb", "-o", dtb.toString(), dts.toString()));
        if (r.exit() != 0) {
            throw new IllegalStateException("dtc did not compile (exit " + r.exit() + "):\n" + r.err() + "\n" + source);
        }
        return Files.readAllBytes(dtb);
    }
}
