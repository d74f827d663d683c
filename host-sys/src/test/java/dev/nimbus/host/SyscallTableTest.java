package dev.nimbus.host;

import dev.nimbus.testsupport.HostTools;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Each architecture's table is what its uapi {@code asm/unistd.h} says: gcc lists the {@code __NR_} macros of
 * the host's headers (x86-64) or Debian's cross headers (arm64, riscv64), and a host program prints each
 * one's value. Every name and number must match, both ways.
 */
@Tag("host-kernel") // needs the host's gcc and headers (the cross-architecture runs have neither)
class SyscallTableTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"x86_64", "aarch64", "riscv64"})
    void tableIsTheHeaders(String arch) throws Exception {
        List<String> include = switch (arch) {
            case "x86_64" -> List.of();
            case "aarch64" -> {
                HostTools.ensurePackages("linux-libc-dev-arm64-cross");
                yield List.of("-nostdinc", "-I/usr/aarch64-linux-gnu/include", "-I" + gccInclude());
            }
            default -> {
                HostTools.ensurePackages("linux-libc-dev-riscv64-cross");
                yield List.of("-nostdinc", "-I/usr/riscv64-linux-gnu/include", "-I" + gccInclude());
            }
        };
        Path header = Files.writeString(dir.resolve("h.c"), "#include <asm/unistd.h>\n");
        List<String> cpp = new java.util.ArrayList<>(List.of("gcc", "-E", "-dM"));
        cpp.addAll(include);
        cpp.add(header.toString());
        List<String> names = HostTools.run(dir, cpp).lines().filter(l -> l.startsWith("#define __NR_"))
                .map(l -> l.split("\\s+")[1].substring("__NR_".length()))
                .filter(n -> !n.equals("syscalls") && !n.equals("arch_specific_syscall")).distinct().toList();
        StringBuilder c = new StringBuilder("#include <stdio.h>\n#include <asm/unistd.h>\nint main(void) {\n");
        for (String n : names) {
            c.append("  printf(\"%s %ld\\n\", \"").append(n).append("\", (long) (__NR_").append(n).append("));\n");
        }
        c.append("  return 0;\n}\n");
        Path src = Files.writeString(dir.resolve("nr.c"), c.toString());
        List<String> cc = new java.util.ArrayList<>(List.of("gcc", "-o", dir.resolve("nr").toString()));
        if (!arch.equals("x86_64")) {
            cc.add("-I/usr/" + arch + "-linux-gnu/include");
        }
        cc.add(src.toString());
        HostTools.run(dir, cc);
        Map<String, Integer> headers = new HashMap<>();
        HostTools.run(dir, List.of(dir.resolve("nr").toString())).lines()
                .forEach(l -> headers.put(l.split(" ")[0], Integer.parseInt(l.split(" ")[1])));
        assertThat(headers).hasSizeGreaterThan(300);
        assertThat(SyscallTable.of(arch).all()).isEqualTo(headers);
    }

    private static String gccInclude() {
        return HostTools.run("gcc", "-print-file-name=include").trim();
    }
}
