package dev.nimbus.kvm.abi;

import java.io.IOException;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.PaddingLayout;
import java.lang.foreign.StructLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Asks the C compiler what the kernel's headers say: generates a small C program from Java layouts and
 * constant names that prints every struct's size, every member's offset and size, and every macro's value,
 * compiles it with gcc against a set of headers, runs it and reads the answers back.
 *
 * <p>For AArch64 and riscv64 the program is compiled by the host's gcc against Debian's cross headers
 * ({@code /usr/<triple>/include} first on the include path). That gives those architectures' layouts
 * because the three are LP64 ABIs with the same sizes and natural alignment for every type the KVM
 * headers use (including the 16-byte {@code __uint128_t}); the program declares {@code printf} itself so
 * no host libc header mixes in.
 */
final class HeaderProbe {
    /** Where an architecture's uapi headers are. */
    enum Headers {
        X86_64(null, "linux-libc-dev"),
        ARM64("/usr/aarch64-linux-gnu/include", "linux-libc-dev-arm64-cross"),
        RISCV64("/usr/riscv64-linux-gnu/include", "linux-libc-dev-riscv64-cross");

        final String includeDir;
        final String debianPackage;

        Headers(String includeDir, String debianPackage) {
            this.includeDir = includeDir;
            this.debianPackage = debianPackage;
        }
    }

    private HeaderProbe() {}

    /** Installs the Debian package with the headers if it is missing (through the project's ensure-packages). */
    static void ensureHeaders(Headers headers) throws IOException, InterruptedException {
        Path script = locate("conformance-tests/l1/ensure-packages");
        Process p = new ProcessBuilder("sh", script.toString(), headers.debianPackage, "gcc").inheritIO().start();
        if (p.waitFor() != 0) {
            throw new IllegalStateException("ensure-packages " + headers.debianPackage + " failed");
        }
    }

    private static Path locate(String relative) {
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            if (Files.exists(d.resolve(relative))) {
                return d.resolve(relative);
            }
        }
        throw new IllegalStateException("cannot find " + relative + " above " + Path.of("").toAbsolutePath());
    }

    /** C statements that print {@code S name size}, then {@code F name.path offset size} for every member. */
    static String structProbe(StructLayout layout) {
        String type = "struct " + layout.name().orElseThrow();
        StringBuilder c = new StringBuilder();
        c.append(String.format("  printf(\"S %s %%lu\\n\", (unsigned long)sizeof(%s));%n", layout.name().get(), type));
        members(c, type, layout.name().get(), layout, "");
        return c.toString();
    }

    private static void members(StringBuilder c, String type, String structName, GroupLayout g, String prefix) {
        for (MemoryLayout m : g.memberLayouts()) {
            if (m instanceof PaddingLayout || m.name().isEmpty()) {
                continue;
            }
            String n = m.name().get();
            if (n.startsWith("$")) {
                members(c, type, structName, (GroupLayout) m, prefix);
                continue;
            }
            String path = prefix + n;
            c.append(String.format("  printf(\"F %s.%s %%lu %%lu\\n\", (unsigned long)offsetof(%s, %s),"
                    + " (unsigned long)sizeof(((%s *)0)->%s));%n", structName, path, type, path, type, path));
            if (m instanceof GroupLayout sub) {
                members(c, type, structName, sub, path + ".");
            }
        }
    }

    /** C statements that print {@code C NAME value} for each macro the headers define. */
    static String constantProbe(Collection<String> names) {
        StringBuilder c = new StringBuilder();
        for (String n : names) {
            c.append("#ifdef ").append(n).append('\n')
             .append(String.format("  printf(\"C %s %%llu\\n\", (unsigned long long)(%s));%n", n, n))
             .append("#endif\n");
        }
        return c.toString();
    }

    /** What the compiled program printed, by key ({@code S name}, {@code F name.path}, {@code C NAME}). */
    record Answers(Map<String, long[]> values) {
        long[] get(String key) {
            return values.get(key);
        }
    }

    /** Compiles {@code body} (statements inside main) against {@code headers} with {@code includes}, runs it. */
    static Answers run(Headers headers, List<String> includes, String body) throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("nimbus-header-probe");
        try {
            StringBuilder src = new StringBuilder("#include <stddef.h>\n");
            for (String i : includes) {
                src.append("#include <").append(i).append(">\n");
            }
            src.append("int printf(const char *, ...);\nint main(void) {\n").append(body).append("  return 0;\n}\n");
            Path c = dir.resolve("probe.c");
            Files.writeString(c, src);
            List<String> cmd = new ArrayList<>(List.of("gcc", "-std=gnu11", "-w", "-o", dir.resolve("probe").toString()));
            if (headers.includeDir != null) {
                cmd.add("-I" + headers.includeDir);
            }
            cmd.add(c.toString());
            String out = exec(cmd, dir);
            String printed = exec(List.of(dir.resolve("probe").toString()), dir);
            Map<String, long[]> values = new LinkedHashMap<>();
            for (String line : printed.split("\n")) {
                String[] f = line.trim().split(" ");
                if (f.length < 3) {
                    continue;
                }
                long[] v = new long[f.length - 2];
                for (int i = 2; i < f.length; i++) {
                    v[i - 2] = Long.parseUnsignedLong(f[i]);
                }
                values.put(f[0] + " " + f[1], v);
            }
            if (values.isEmpty()) {
                throw new IllegalStateException("the probe printed nothing; gcc said: " + out);
            }
            return new Answers(values);
        } finally {
            try (var files = Files.list(dir)) {
                for (Path p : files.toList()) {
                    Files.deleteIfExists(p);
                }
            }
            Files.deleteIfExists(dir);
        }
    }

    private static String exec(List<String> cmd, Path dir) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException(String.join(" ", cmd) + " failed:\n" + out);
        }
        return out;
    }
}
