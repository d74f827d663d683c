package dev.nimbus.vmm.config;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzz target for the command line's option values, which a user or a script controls. The invariant: a
 * value is parsed, or refused with a {@link ConfigException} that names the option; any other exception is a
 * bug (a {@code NumberFormatException}, an {@code InvalidPathException}, an index out of bounds) that would
 * reach the user as exit 1. Without {@code JAZZER_FUZZ=1} it runs once per committed input
 * ({@code src/test/resources/dev/nimbus/vmm/config/ConfigFuzzTestInputs/}), as a regression test.
 */
class ConfigFuzzTest {
    private static final List<String> OPTIONS = List.of("--cpus", "--memory", "--disk", "--net", "--rng", "--serial",
            "--console", "--api-socket");

    @FuzzTest(maxDuration = "30s")
    void optionValuesAreParsedOrRefusedNamingTheOption(FuzzedDataProvider data) {
        String option = data.pickValue(OPTIONS);
        String text = data.consumeRemainingAsString();
        try {
            Object parsed = switch (option) {
                case "--cpus" -> CpusConfig.parse(text);
                case "--memory" -> MemoryConfig.parse(text);
                case "--disk" -> DiskConfig.parse(text);
                case "--net" -> NetConfig.parse(text);
                case "--rng" -> RngConfig.parse(text);
                case "--serial", "--console" -> ConsoleConfig.parse(option, text);
                default -> ApiSocketConfig.parse(text);
            };
            assertThat(parsed).isNotNull();
        } catch (ConfigException e) {
            assertThat(e.getMessage()).as("a refusal names its option").startsWith(option);
        }
    }
}
