package dev.nimbus.conformance;

import dev.nimbus.hypervisor.Availability;
import dev.nimbus.kvm.KvmHypervisor;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

/**
 * The extension behind {@link RequiresKvm}: lets the test run when {@code /dev/kvm} can be opened for reading and
 * writing and runs guest kernel code at hardware speed; otherwise fails it when {@code CI=true} and aborts it
 * (with the reason) everywhere else.
 */
public final class KvmRequirement implements BeforeAllCallback, BeforeEachCallback {
    static final Path DEV_KVM = Path.of("/dev/kvm");

    @Override
    public void beforeAll(ExtensionContext context) {
        check(DEV_KVM, System.getenv("CI"));
        checkSpeed(new KvmHypervisor().availability(), System.getenv("CI"));
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        check(DEV_KVM, System.getenv("CI"));
    }

    /**
     * Refuses a {@code /dev/kvm} that emulates guest kernel code (measured by the KVM backend once per
     * process): a boot there takes many minutes or stops on an instruction the emulator lacks, so the test
     * would hang rather than fail. Fails when {@code ci} is {@code "true"}, aborts otherwise.
     */
    static void checkSpeed(Availability kvm, String ci) {
        if (!kvm.kernelEmulated()) {
            return;
        }
        refuse(kvm.summary(), "run the KVM tests in the L1 rig (./mvnw verify does so on such a host; -Dnimbus.kvm=l1), see docs/testing.md", ci);
    }

    /**
     * Returns when {@code device} is usable; otherwise throws {@link AssertionFailedError} when {@code ci} is
     * {@code "true"} (any case), or {@link TestAbortedException}.
     */
    static void check(Path device, String ci) {
        String problem;
        if (!Files.exists(device)) {
            problem = device + " does not exist on this machine";
        } else if (!Files.isReadable(device) || !Files.isWritable(device)) {
            problem = device + " exists but this user cannot open it for reading and writing";
        } else {
            return;
        }
        refuse(problem, "KVM tests run through ./mvnw verify (inside an L1 guest when the machine has no KVM)"
                + " or conformance-tests/l1/run-in-l1; see docs/testing.md", ci);
    }

    /** Fails the test when {@code ci} is {@code "true"} (any case), aborts it otherwise; says what and how. */
    private static void refuse(String problem, String how, String ci) {
        if ("true".equalsIgnoreCase(ci)) {
            throw new AssertionFailedError("KVM test cannot run: " + problem + ", and CI=true forbids skipping it. " + how);
        }
        throw new TestAbortedException("KVM test not run: " + problem + ". " + how);
    }
}
