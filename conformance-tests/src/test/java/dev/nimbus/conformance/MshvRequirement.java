package dev.nimbus.conformance;

import dev.nimbus.hypervisor.Availability;
import dev.nimbus.mshv.MshvHypervisor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Supplier;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.opentest4j.TestAbortedException;

/**
 * What the conformance kit's MSHV cases need: lets the test run where {@code /dev/mshv} exists and the MSHV
 * backend's {@code availability()} is usable; otherwise aborts it with the reason, so a report shows it as not
 * run, never as passed.
 *
 * <p>Unlike {@link KvmRequirement}, it aborts under {@code CI=true} too: no machine of this project has
 * {@code /dev/mshv} (Linux as a Microsoft Hypervisor root partition), and the L1 rig cannot make one, so on CI
 * these cases are aborted by design and say so; they run wherever such a host runs the kit (docs/testing.md).
 */
public final class MshvRequirement implements BeforeAllCallback, BeforeEachCallback {
    static final Path DEV_MSHV = Path.of("/dev/mshv");

    @Override
    public void beforeAll(ExtensionContext context) {
        check(DEV_MSHV, () -> new MshvHypervisor().availability());
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        check(DEV_MSHV, () -> new MshvHypervisor().availability());
    }

    /**
     * Returns when {@code device} exists and {@code availability} (asked only then) is usable; otherwise throws
     * {@link TestAbortedException} naming what is missing.
     */
    static void check(Path device, Supplier<Availability> availability) {
        if (!Files.exists(device)) {
            throw new TestAbortedException("MSHV case not run: no " + device + " on this machine. " + HOW);
        }
        Availability a = availability.get();
        if (!a.usable()) {
            throw new TestAbortedException("MSHV case not run: " + a.reason() + ". " + HOW);
        }
    }

    private static final String HOW = "The kit's MSHV cases run on a Microsoft Hypervisor root partition"
            + " with the mshv driver; see docs/testing.md";
}
