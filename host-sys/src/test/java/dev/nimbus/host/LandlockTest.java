package dev.nimbus.host;

import dev.nimbus.testsupport.HostTools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemoryLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Landlock's system-call numbers, constants and struct layouts are the host headers' (gcc prints them), and a
 * ruleset restricts the thread that applies it: a listed file opens, an unlisted one is EACCES. The
 * restriction runs on a thread of its own, which ends with the test, so the rest of this JVM is not
 * restricted.
 */
@org.junit.jupiter.api.Tag("host-kernel") // QEMU user mode (the cross-architecture runs) has no Landlock system calls
class LandlockTest {
    @TempDir
    Path dir;

    /** Skips where the kernel has no Landlock, except in CI (where the kernel is known to have it). */
    static void assumeLandlock() {
        int abi = Landlock.abiVersion();
        if (abi < 1 && System.getenv("CI") != null) {
            fail("this kernel has no Landlock (landlock_create_ruleset(VERSION) failed) and CI is set: CI kernels must have it");
        }
        assumeTrue(abi >= 1, "this kernel has no Landlock (not built, or not in the boot's lsm= list)");
    }

    @Test
    void numbersAndLayoutsMatchTheHostHeaders() throws Exception {
        String gccTarget = run(List.of("gcc", "-dumpmachine")).trim();
        String jvmArch = System.getProperty("os.arch").replace("amd64", "x86_64").replace("aarch64", "aarch64");
        assumeTrue(gccTarget.startsWith(jvmArch + "-"), "gcc builds for " + gccTarget + ", the JVM runs on " + jvmArch);
        Map<String, Long> ours = new LinkedHashMap<>();
        ours.put("SYS_landlock_create_ruleset", Landlock.SYS_LANDLOCK_CREATE_RULESET);
        ours.put("SYS_landlock_add_rule", Landlock.SYS_LANDLOCK_ADD_RULE);
        ours.put("O_DIRECTORY", (long) Landlock.O_DIRECTORY);
        ours.put("SYS_landlock_restrict_self", Landlock.SYS_LANDLOCK_RESTRICT_SELF);
        ours.put("LANDLOCK_CREATE_RULESET_VERSION", (long) Landlock.LANDLOCK_CREATE_RULESET_VERSION);
        ours.put("LANDLOCK_RULE_PATH_BENEATH", (long) Landlock.LANDLOCK_RULE_PATH_BENEATH);
        ours.put("PR_SET_NO_NEW_PRIVS", (long) Landlock.PR_SET_NO_NEW_PRIVS);
        ours.put("O_PATH", (long) Landlock.O_PATH);
        ours.put("EXECUTE", Landlock.ACCESS_FS_EXECUTE);
        ours.put("WRITE_FILE", Landlock.ACCESS_FS_WRITE_FILE);
        ours.put("READ_FILE", Landlock.ACCESS_FS_READ_FILE);
        ours.put("READ_DIR", Landlock.ACCESS_FS_READ_DIR);
        ours.put("REMOVE_DIR", Landlock.ACCESS_FS_REMOVE_DIR);
        ours.put("REMOVE_FILE", Landlock.ACCESS_FS_REMOVE_FILE);
        ours.put("MAKE_CHAR", Landlock.ACCESS_FS_MAKE_CHAR);
        ours.put("MAKE_DIR", Landlock.ACCESS_FS_MAKE_DIR);
        ours.put("MAKE_REG", Landlock.ACCESS_FS_MAKE_REG);
        ours.put("MAKE_SOCK", Landlock.ACCESS_FS_MAKE_SOCK);
        ours.put("MAKE_FIFO", Landlock.ACCESS_FS_MAKE_FIFO);
        ours.put("MAKE_BLOCK", Landlock.ACCESS_FS_MAKE_BLOCK);
        ours.put("MAKE_SYM", Landlock.ACCESS_FS_MAKE_SYM);
        ours.put("REFER", Landlock.ACCESS_FS_REFER);
        ours.put("sizeof(struct landlock_ruleset_attr)", Landlock.RULESET_ATTR.byteSize());
        ours.put("sizeof(struct landlock_path_beneath_attr)", Landlock.PATH_BENEATH_ATTR.byteSize());
        ours.put("offsetof(parent_fd)", Landlock.PATH_BENEATH_ATTR.byteOffset(MemoryLayout.PathElement.groupElement("parent_fd")));
        ours.put("AF_UNIX", (long) LibC.AF_UNIX);
        ours.put("SOCK_STREAM", (long) LibC.SOCK_STREAM);
        ours.put("SOL_SOCKET", (long) LibC.SOL_SOCKET);
        ours.put("SO_TYPE", (long) LibC.SO_TYPE);
        ours.put("SO_ACCEPTCONN", (long) LibC.SO_ACCEPTCONN);
        ours.put("SO_DOMAIN", (long) LibC.SO_DOMAIN);
        ours.put("F_GETFD", (long) LibC.F_GETFD);
        ours.put("ENOTSOCK", (long) Errno.ENOTSOCK);
        // rights of later ABIs, where the installed headers are new enough to have them
        Map<String, Long> later = Map.of("TRUNCATE", Landlock.ACCESS_FS_TRUNCATE, "IOCTL_DEV", Landlock.ACCESS_FS_IOCTL_DEV);

        Path src = dir.resolve("landlock.c");
        Files.writeString(src, """
                #define _GNU_SOURCE
                #include <stdio.h>
                #include <stddef.h>
                #include <errno.h>
                #include <fcntl.h>
                #include <sys/prctl.h>
                #include <sys/socket.h>
                #include <sys/syscall.h>
                #include <linux/landlock.h>
                #define P(name, v) printf("%s=%lu\\n", name, (unsigned long) (v))
                #define A(name) P(#name, LANDLOCK_ACCESS_FS_##name)
                int main(void) {
                    P("SYS_landlock_create_ruleset", SYS_landlock_create_ruleset);
                    P("SYS_landlock_add_rule", SYS_landlock_add_rule);
                    P("SYS_landlock_restrict_self", SYS_landlock_restrict_self);
                    P("LANDLOCK_CREATE_RULESET_VERSION", LANDLOCK_CREATE_RULESET_VERSION);
                    P("LANDLOCK_RULE_PATH_BENEATH", LANDLOCK_RULE_PATH_BENEATH);
                    P("PR_SET_NO_NEW_PRIVS", PR_SET_NO_NEW_PRIVS); P("O_PATH", O_PATH); P("O_DIRECTORY", O_DIRECTORY);
                    A(EXECUTE); A(WRITE_FILE); A(READ_FILE); A(READ_DIR); A(REMOVE_DIR); A(REMOVE_FILE); A(MAKE_CHAR);
                    A(MAKE_DIR); A(MAKE_REG); A(MAKE_SOCK); A(MAKE_FIFO); A(MAKE_BLOCK); A(MAKE_SYM); A(REFER);
                #ifdef LANDLOCK_ACCESS_FS_TRUNCATE
                    A(TRUNCATE);
                #endif
                #ifdef LANDLOCK_ACCESS_FS_IOCTL_DEV
                    A(IOCTL_DEV);
                #endif
                    P("sizeof(struct landlock_ruleset_attr)", offsetof(struct landlock_ruleset_attr, handled_access_fs) + 8);
                    P("sizeof(struct landlock_path_beneath_attr)", sizeof(struct landlock_path_beneath_attr));
                    P("offsetof(parent_fd)", offsetof(struct landlock_path_beneath_attr, parent_fd));
                    P("AF_UNIX", AF_UNIX); P("SOCK_STREAM", SOCK_STREAM); P("SOL_SOCKET", SOL_SOCKET);
                    P("SO_TYPE", SO_TYPE); P("SO_ACCEPTCONN", SO_ACCEPTCONN); P("SO_DOMAIN", SO_DOMAIN);
                    P("F_GETFD", F_GETFD); P("ENOTSOCK", ENOTSOCK);
                    return 0;
                }
                """);
        Path exe = dir.resolve("landlock");
        run(List.of("gcc", "-o", exe.toString(), src.toString()));
        Map<String, Long> theirs = new LinkedHashMap<>();
        for (String line : run(List.of(exe.toString())).split("\n")) {
            if (line.contains("=")) {
                theirs.put(line.substring(0, line.indexOf('=')), Long.parseUnsignedLong(line.substring(line.indexOf('=') + 1).trim()));
            }
        }
        later.forEach((name, value) -> {
            if (theirs.containsKey(name)) {
                ours.put(name, value);
            }
        });
        assertThat(ours).containsExactlyInAnyOrderEntriesOf(theirs);
    }

    /**
     * O_DIRECTORY differs between architectures (AArch64's is the others' O_DIRECT), so it is compared per
     * architecture with that architecture's uapi {@code asm/fcntl.h} (the host's for x86-64, Debian's cross
     * headers for the others), not with whatever the host's gcc says: the cross runs of these tests execute
     * an AArch64 or riscv64 JVM beside an x86-64 gcc.
     */
    @Test
    void oDirectoryIsEachArchitecturesOwn(@TempDir Path dir) throws Exception {
        Map<String, String> headers = Map.of("amd64", "", "aarch64", "/usr/aarch64-linux-gnu/include",
                "riscv64", "/usr/riscv64-linux-gnu/include");
        HostTools.ensurePackages("gcc", "linux-libc-dev-arm64-cross", "linux-libc-dev-riscv64-cross");
        for (var e : headers.entrySet()) {
            Path src = Files.writeString(dir.resolve("o_directory.c"), """
                    #include <stdio.h>
                    #include <asm/fcntl.h>
                    int main(void) { printf("%lu\\n", (unsigned long) O_DIRECTORY); return 0; }
                    """);
            Path exe = dir.resolve("o_directory");
            List<String> gcc = new java.util.ArrayList<>(List.of("gcc", "-o", exe.toString()));
            if (!e.getValue().isEmpty()) {
                gcc.addAll(List.of("-I", e.getValue()));
            }
            gcc.add(src.toString());
            run(gcc);
            assertThat((long) Landlock.oDirectory(e.getKey())).as("O_DIRECTORY on " + e.getKey())
                    .isEqualTo(Long.parseLong(run(List.of(exe.toString())).strip()));
        }
        assertThat(Landlock.O_DIRECTORY).isEqualTo(Landlock.oDirectory(System.getProperty("os.arch")));
    }

    @Test
    void handledRightsGrowWithTheAbi() {
        assertThat(Landlock.handledRights(1)).isEqualTo(0x1fffL);
        assertThat(Landlock.handledRights(2)).isEqualTo(0x3fffL);
        assertThat(Landlock.handledRights(3)).isEqualTo(0x7fffL);
        assertThat(Landlock.handledRights(4)).isEqualTo(0x7fffL);
        assertThat(Landlock.handledRights(5)).isEqualTo(0xffffL);
        assertThat(Landlock.handledRights(7)).isEqualTo(0xffffL);
        assertThat(Landlock.writeRights(1) & Landlock.ACCESS_FS_TRUNCATE).isZero();
        assertThat(Landlock.readRights(1)).isEqualTo(Landlock.ACCESS_FS_READ_FILE | Landlock.ACCESS_FS_READ_DIR);
    }

    @Test
    void aRestrictedThreadOpensListedFilesAndIsRefusedTheOthers() throws Exception {
        assumeLandlock();
        Path listed = Files.createDirectory(dir.resolve("listed"));
        Path readable = Files.writeString(listed.resolve("a"), "a");
        Path writable = Files.writeString(dir.resolve("w"), "w");
        Path unlisted = Files.writeString(dir.resolve("b"), "b");
        AtomicReference<Object> result = new AtomicReference<>();
        Thread t = Thread.ofPlatform().name("landlock-test").start(() -> {
            try (Landlock.Ruleset r = Landlock.Ruleset.create()) {
                r.allow(listed, Landlock.readRights(r.abi()));
                r.allow(writable, Landlock.readRights(r.abi()) | Landlock.writeRights(r.abi()));
                r.restrictCurrentThread();
                result.set(List.of(
                        openResult(readable, LibC.O_RDONLY), openResult(readable, LibC.O_WRONLY),
                        openResult(writable, LibC.O_RDWR), openResult(unlisted, LibC.O_RDONLY),
                        openResult(dir, LibC.O_RDONLY | Landlock.O_DIRECTORY)));
            } catch (Throwable e) {
                result.set(e);
            }
        });
        t.join();
        assertThat(result.get()).isEqualTo(List.of("ok", "EACCES", "ok", "EACCES", "EACCES"));
        // and the test's own thread was never restricted
        assertThat(openResult(unlisted, LibC.O_RDONLY)).isEqualTo("ok");
    }

    static String openResult(Path p, int flags) {
        int fd = LibC.openErrno(p.toString(), flags | LibC.O_CLOEXEC);
        if (fd >= 0) {
            LibC.close(fd);
            return "ok";
        }
        return -fd == Errno.EACCES ? "EACCES" : Errno.describe(-fd);
    }

    private static String run(List<String> command) {
        return HostTools.run(Path.of("."), command);
    }
}
