package dev.nimbus.conformance.backend;

import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A backend's requirement ({@code KvmRequirement}, {@code MshvRequirement}) checked in full before each of that
 * backend's kit cases. JUnit does not call a {@link BeforeAllCallback} that only one invocation of a class
 * template registers, so the once-per-class check (for KVM: the device, and that it runs guest kernel code at
 * hardware speed) runs here per case instead; each case then reports its own abort or failure, by name.
 */
record CaseRequirement(BeforeAllCallback check) implements BeforeEachCallback {
    @Override
    public void beforeEach(ExtensionContext context) throws Exception {
        check.beforeAll(context);
    }
}
