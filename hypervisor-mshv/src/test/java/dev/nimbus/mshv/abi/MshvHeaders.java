package dev.nimbus.mshv.abi;

import dev.nimbus.testsupport.HostTools;
import dev.nimbus.testsupport.abi.HeaderProbe;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The headers the MSHV backend is checked against, fetched by the project's own
 * {@code conformance-tests/l1/mshv-headers} (Debian's {@code linux-libc-dev} and
 * {@code linux-headers-<version>-common} of one release, unpacked into the project's cache, never installed
 * into the system): Linux's uapi {@code <linux/mshv.h>} and the hypervisor's {@code <hyperv/hvhdk.h>} with
 * what it includes ({@code <linux/ioctl.h>} first: {@code mshv.h} uses {@code _IOW} without including it).
 *
 * <p>The {@code hyperv/} headers are kernel-internal: they expect the kernel's {@code u8}..{@code u64},
 * {@code __packed}, {@code BIT()}, {@code IS_ENABLED()}, {@code static_assert} and a few more. The probe
 * program supplies those itself, before including them, and empty stand-ins for {@code <linux/bits.h>} and
 * {@code <linux/build_bug.h>} (whose macros it defines); the headers are used exactly as Debian ships
 * them. {@code CONFIG_X86} selects their x86-64 definitions.
 */
final class MshvHeaders {
    private static final String PRELUDE = """
            #include <linux/types.h>
            typedef __u8 u8;
            typedef __u16 u16;
            typedef __u32 u32;
            typedef __u64 u64;
            typedef __s8 s8;
            typedef __s16 s16;
            typedef __s32 s32;
            typedef __s64 s64;
            typedef unsigned long ulong;
            #define CONFIG_X86 1
            #define CONFIG_X86_64 1
            #define IS_ENABLED(option) option
            #define __packed __attribute__((packed))
            #define __aligned(n) __attribute__((aligned(n)))
            #define BIT(n) (1UL << (n))
            #define BIT_ULL(n) (1ULL << (n))
            #define GENMASK(h, l) ((~0UL << (l)) & (~0UL >> (63 - (h))))
            #define GENMASK_ULL(h, l) ((~0ULL << (l)) & (~0ULL >> (63 - (h))))
            #define static_assert(expr, ...) _Static_assert(expr, #expr)
            #define DECLARE_FLEX_ARRAY(TYPE, NAME) struct { struct { } __empty_ ## NAME; TYPE NAME[]; }
            #define __TRAILING_OVERLAP(TYPE, NAME, FAM, ATTRS, MEMBERS) \\
                union { TYPE NAME; struct { unsigned char __pad_to_ ## FAM[offsetof(TYPE, FAM)]; MEMBERS } ATTRS; }
            """;

    private static Path root;

    private MshvHeaders() {}

    /** The cached headers' directory, fetching them on first use (gcc installed through ensure-packages too). */
    static synchronized Path root() {
        if (root == null) {
            HostTools.ensurePackages("gcc");
            Path script = HostTools.repositoryRoot().resolve("conformance-tests/l1/mshv-headers");
            String out = HostTools.run(Path.of("."), List.of("bash", script.toString())).strip();
            Path dir = Path.of(out.substring(out.lastIndexOf('\n') + 1));
            if (!Files.isRegularFile(dir.resolve("usr/include/linux/mshv.h"))
                    || !Files.isRegularFile(dir.resolve("kernel/include/hyperv/hvhdk.h"))) {
                throw new IllegalStateException("mshv-headers printed " + dir + ", which lacks linux/mshv.h or hyperv/hvhdk.h");
            }
            root = dir;
        }
        return root;
    }

    /** Debian's packages the headers came from, one {@code name version} a line. */
    static String packages() throws java.io.IOException {
        return Files.readString(root().resolve("VERSION")).strip();
    }

    /** A probe program with both headers included. */
    static HeaderProbe.Program program() {
        Path r = root();
        return new HeaderProbe.Program(
                List.of(r.resolve("usr/include/x86_64-linux-gnu"), r.resolve("usr/include"), r.resolve("kernel/include")),
                Map.of("linux/bits.h", "/* BIT() and GENMASK() come from the probe's prelude */\n",
                        "linux/build_bug.h", "/* static_assert comes from the probe's prelude */\n"),
                PRELUDE, List.of("linux/ioctl.h", "linux/mshv.h", "hyperv/hvhdk.h"));
    }
}
