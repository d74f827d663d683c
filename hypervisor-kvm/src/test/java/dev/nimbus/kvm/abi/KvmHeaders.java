package dev.nimbus.kvm.abi;

import dev.nimbus.testsupport.HostTools;
import dev.nimbus.testsupport.abi.HeaderProbe;

import java.nio.file.Path;

/**
 * Where each architecture's KVM uapi headers are: the host's {@code linux-libc-dev} for x86-64, Debian's
 * cross headers ({@code /usr/<triple>/include} first on the include path) for AArch64 and riscv64.
 */
enum KvmHeaders {
    X86_64(null, "linux-libc-dev"),
    ARM64("/usr/aarch64-linux-gnu/include", "linux-libc-dev-arm64-cross"),
    RISCV64("/usr/riscv64-linux-gnu/include", "linux-libc-dev-riscv64-cross");

    private final String includeDir;
    private final String debianPackage;

    KvmHeaders(String includeDir, String debianPackage) {
        this.includeDir = includeDir;
        this.debianPackage = debianPackage;
    }

    /** Installs the Debian package with the headers, and gcc, if missing (through the project's ensure-packages). */
    void ensure() {
        HostTools.ensurePackages(debianPackage, "gcc");
    }

    /** A probe program that includes {@code includes} from these headers. */
    HeaderProbe.Program program(String... includes) {
        HeaderProbe.Program p = HeaderProbe.Program.of(includes);
        return includeDir == null ? p : p.withIncludeDirs(Path.of(includeDir));
    }
}
