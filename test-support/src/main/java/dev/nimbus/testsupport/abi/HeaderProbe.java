package dev.nimbus.testsupport.abi;

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
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Asks the C compiler what a set of headers says: generates a small C program from Java layouts and
 * constant names that prints every struct's size, every member's offset and size, every bit-field's place
 * and every constant's value, compiles it with the host's gcc against those headers, runs it and reads the
 * answers back. {@link LayoutChecker} compares them with the Java side. Shared by the backends' header
 * conformance tests (KVM's uapi and cross headers, MSHV's uapi and hypervisor headers).
 *
 * <p>The program declares {@code printf} itself, so no host libc header mixes into cross headers; that
 * gives another architecture's layouts as long as it is an LP64 ABI with the same sizes and natural
 * alignment for every type the headers use, as AArch64 and riscv64 are.
 */
public final class HeaderProbe {
    private HeaderProbe() {}

    /**
     * What the probe program is compiled against.
     *
     * @param includeDirs searched first, in order, before the compiler's own ({@code -I})
     * @param stubHeaders headers the program brings itself, by include path (an empty
     *                    {@code linux/build_bug.h} for kernel-internal headers that include one), searched
     *                    before {@code includeDirs}
     * @param prelude     C text before the includes (the typedefs and macros kernel-internal headers expect)
     * @param includes    the headers, as {@code #include <...>} names
     */
    public record Program(List<Path> includeDirs, Map<String, String> stubHeaders, String prelude, List<String> includes) {
        public Program {
            includeDirs = List.copyOf(includeDirs);
            stubHeaders = Map.copyOf(stubHeaders);
            includes = List.copyOf(includes);
        }

        /** {@code includes} with the compiler's own include path only. */
        public static Program of(String... includes) {
            return new Program(List.of(), Map.of(), "", List.of(includes));
        }

        /** The same program with {@code dirs} searched first. */
        public Program withIncludeDirs(Path... dirs) {
            List<Path> all = new ArrayList<>(List.of(dirs));
            all.addAll(includeDirs);
            return new Program(all, stubHeaders, prelude, includes);
        }
    }

    /**
     * A C bit-field: {@code path} (C member syntax) of {@code struct}, {@code width} bits starting at bit
     * {@code shift} of the byte at {@code byteOffset} (little-endian bit order, as gcc lays bit-fields out on
     * x86-64).
     */
    public record BitField(String struct, String path, long byteOffset, int shift, int width) {
        public BitField {
            if (shift < 0 || shift > 7 || width < 1 || width > 56) {
                throw new IllegalArgumentException("bit-field " + path + ": shift 0..7 and width 1..56");
            }
        }

        /** The bits it covers, counted from bit 0 of {@link #byteOffset}. */
        public long mask() {
            return ((1L << width) - 1) << shift;
        }
    }

    /** C statements that print {@code S name size}, then {@code F name.path offset size} for every member. */
    public static String structProbe(StructLayout layout) {
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
                if (m instanceof GroupLayout anonymous) {
                    members(c, type, structName, anonymous, prefix);
                }
                continue; // a bit-field's storage unit: see bitFieldProbe
            }
            String path = prefix + n;
            c.append(String.format("  printf(\"F %s.%s %%lu %%lu\\n\", (unsigned long)offsetof(%s, %s),"
                    + " (unsigned long)sizeof(((%s *)0)->%s));%n", structName, path, type, path, type, path));
            if (m instanceof GroupLayout sub) {
                members(c, type, structName, sub, path + ".");
            }
        }
    }

    /** C statements that print {@code C NAME value} for each name the headers define as a macro (others are left out). */
    public static String constantProbe(Collection<String> names) {
        StringBuilder c = new StringBuilder();
        for (String n : names) {
            c.append("#ifdef ").append(n).append('\n')
             .append(String.format("  printf(\"C %s %%llu\\n\", (unsigned long long)(%s));%n", n, n))
             .append("#endif\n");
        }
        return c.toString();
    }

    /**
     * C statements that print {@code C NAME value} for names that must exist, macros or enumerators alike
     * (an enumerator cannot be tested with {@code #ifdef}): a name the headers lack fails the compilation,
     * and gcc's message names it.
     */
    public static String valueProbe(Collection<String> names) {
        StringBuilder c = new StringBuilder();
        for (String n : names) {
            c.append(String.format("  printf(\"C %s %%llu\\n\", (unsigned long long)(%s));%n", n, n));
        }
        return c.toString();
    }

    /**
     * C statements that print {@code B struct.path byte mask} for each bit-field: the bit-field set to all ones in
     * an otherwise zero struct, the first non-zero byte and the (up to 8) bytes from there as a little-endian mask.
     */
    public static String bitFieldProbe(Collection<BitField> fields) {
        StringBuilder c = new StringBuilder();
        for (BitField f : fields) {
            c.append("  {\n")
             .append(String.format("    union { struct %s s; unsigned char b[sizeof(struct %s)]; } u;%n", f.struct(), f.struct()))
             .append("    unsigned long i, first = sizeof u; unsigned long long m = 0;\n")
             .append("    __builtin_memset(&u, 0, sizeof u);\n")
             .append(String.format("    u.s.%s = ~0ULL;%n", f.path()))
             .append("    for (i = 0; i < sizeof u; i++) if (u.b[i]) { first = i; break; }\n")
             .append("    for (i = 0; i < 8 && first + i < sizeof u; i++) m |= (unsigned long long)u.b[first + i] << (8 * i);\n")
             .append(String.format("    printf(\"B %s.%s %%lu %%llu\\n\", first, m);%n", f.struct(), f.path()))
             .append("  }\n");
        }
        return c.toString();
    }

    /** What the compiled program printed, by key ({@code S name}, {@code F name.path}, {@code C NAME}, {@code B name.path}). */
    public record Answers(Map<String, long[]> values) {
        public long[] get(String key) {
            return values.get(key);
        }
    }

    /** Compiles {@code body} (statements inside main) as {@code program} says, runs it and reads its answers. */
    public static Answers run(Program program, String body) throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("nimbus-header-probe");
        try {
            for (Map.Entry<String, String> stub : program.stubHeaders().entrySet()) {
                Path h = dir.resolve("stubs").resolve(stub.getKey());
                Files.createDirectories(h.getParent());
                Files.writeString(h, stub.getValue());
            }
            StringBuilder src = new StringBuilder("#include <stddef.h>\n").append(program.prelude()).append('\n');
            for (String i : program.includes()) {
                src.append("#include <").append(i).append(">\n");
            }
            src.append("int printf(const char *, ...);\nint main(void) {\n").append(body).append("  return 0;\n}\n");
            Path c = dir.resolve("probe.c");
            Files.writeString(c, src);
            List<String> cmd = new ArrayList<>(List.of("gcc", "-std=gnu11", "-w", "-o", dir.resolve("probe").toString()));
            if (!program.stubHeaders().isEmpty()) {
                cmd.add("-I" + dir.resolve("stubs"));
            }
            program.includeDirs().forEach(d -> cmd.add("-I" + d));
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
            try (Stream<Path> files = Files.walk(dir)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
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
