package dev.nimbus.vmm.devices;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The undo list of a machine's host resources. */
class ResourcesTest {
    @Test
    void releasesLastOpenedFirstAndGoesOnPastAFailingRelease() {
        List<String> released = new ArrayList<>();
        Resources resources = new Resources();
        resources.add(() -> released.add("file"));
        resources.add(() -> {
            released.add("tap");
            throw new IllegalStateException("already gone");
        });
        resources.add(() -> released.add("worker"));

        resources.close();

        assertThat(released).containsExactly("worker", "tap", "file");
    }

    @Test
    void releasesEachOnlyOnce() {
        List<String> released = new ArrayList<>();
        Resources resources = new Resources();
        resources.add(() -> released.add("file"));

        resources.close();
        resources.close();

        assertThat(released).containsExactly("file");
    }
}
