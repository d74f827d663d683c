package dev.nimbus.host;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.OptionalInt;

/**
 * One architecture's system-call numbers, by name and back, as its uapi {@code asm/unistd.h} has them
 * (read from {@code syscalls-ARCH.txt} beside this class; {@code SyscallTableTest} checks each table
 * against the headers with gcc). arm64 and riscv64 share asm-generic's numbering; x86-64 has its own.
 * A seccomp filter tests a number, so it needs this table for the architecture it runs on, and the
 * architecture's audit token, which the kernel passes with every call.
 */
public final class SyscallTable {
    /** {@code AUDIT_ARCH_X86_64}: EM_X86_64 (62) | 64-bit | little-endian. */
    public static final int AUDIT_ARCH_X86_64 = 0xc000003e;
    /** {@code AUDIT_ARCH_AARCH64}: EM_AARCH64 (183) | 64-bit | little-endian. */
    public static final int AUDIT_ARCH_AARCH64 = 0xc00000b7;
    /** {@code AUDIT_ARCH_RISCV64}: EM_RISCV (243) | 64-bit | little-endian. */
    public static final int AUDIT_ARCH_RISCV64 = 0xc00000f3;

    private final String arch;
    private final int auditArch;
    private final Map<String, Integer> numbers;
    private final Map<Integer, String> names;

    private SyscallTable(String arch, int auditArch, Map<String, Integer> numbers) {
        this.arch = arch;
        this.auditArch = auditArch;
        this.numbers = Collections.unmodifiableMap(numbers);
        Map<Integer, String> byNumber = new HashMap<>();
        numbers.forEach((name, nr) -> byNumber.putIfAbsent(nr, name));
        this.names = Collections.unmodifiableMap(byNumber);
    }

    /** The table of the architecture this JVM runs on. */
    public static SyscallTable host() {
        return of(switch (System.getProperty("os.arch")) {
            case "amd64", "x86_64" -> "x86_64";
            case "aarch64" -> "aarch64";
            case "riscv64" -> "riscv64";
            default -> throw new IllegalStateException("no system-call table for " + System.getProperty("os.arch"));
        });
    }

    /** The table of {@code arch}: x86_64, aarch64 or riscv64. */
    public static SyscallTable of(String arch) {
        int audit = switch (arch) {
            case "x86_64" -> AUDIT_ARCH_X86_64;
            case "aarch64" -> AUDIT_ARCH_AARCH64;
            case "riscv64" -> AUDIT_ARCH_RISCV64;
            default -> throw new IllegalArgumentException("no system-call table for " + arch);
        };
        Map<String, Integer> numbers = new HashMap<>();
        try (InputStream in = SyscallTable.class.getResourceAsStream("syscalls-" + arch + ".txt")) {
            if (in == null) {
                throw new IllegalStateException("syscalls-" + arch + ".txt is missing from host-sys");
            }
            BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.US_ASCII));
            for (String line; (line = r.readLine()) != null; ) {
                if (line.isBlank() || line.startsWith("#")) {
                    continue;
                }
                String[] f = line.trim().split("\\s+");
                numbers.put(f[0], Integer.parseInt(f[1]));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new SyscallTable(arch, audit, numbers);
    }

    public String arch() {
        return arch;
    }

    /** The value of {@code seccomp_data.arch} for this architecture's native calls. */
    public int auditArch() {
        return auditArch;
    }

    /** The call's number, or empty where this architecture has no such call (arm64 has no {@code open}). */
    public OptionalInt number(String name) {
        Integer nr = numbers.get(name);
        return nr == null ? OptionalInt.empty() : OptionalInt.of(nr);
    }

    /** The call's name, or {@code "syscall N"} for a number the table does not know (a newer kernel's). */
    public String name(int number) {
        String name = names.get(number);
        return name != null ? name : "syscall " + number;
    }

    /** Every name and number. */
    public Map<String, Integer> all() {
        return numbers;
    }
}
