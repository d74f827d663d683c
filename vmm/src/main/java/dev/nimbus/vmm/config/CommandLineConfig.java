package dev.nimbus.vmm.config;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The command line's view of the {@link Schema}: the values of the options its sections declare
 * ({@code --disk path=a.raw}, {@code --kernel vmlinux}) read into a {@link VmConfig}. {@code Main} declares
 * the options from the schema too ({@link Section#option()}, {@link Section#paramLabel()}), so no option
 * name is written twice.
 */
public final class CommandLineConfig {
    private CommandLineConfig() {}

    /**
     * Reads the options given: {@code values} maps an option ({@code --disk}) to its values in the order given,
     * absent or empty when it was not given. The payload's options ({@code --kernel}...) hold one value each.
     */
    public static VmConfig read(Map<String, List<String>> values) throws ConfigException {
        Map<Section, List<Values>> sections = new LinkedHashMap<>();
        // what Nimbus does not build is refused first: it matters more than a missing --kernel
        List<Section> order = new ArrayList<>(Schema.SECTIONS);
        order.remove(Schema.NOT_YET);
        order.addFirst(Schema.NOT_YET);
        for (Section s : order) {
            if (s == Schema.API_SOCKET || s == Schema.RESTORE) {
                continue; // where the API listens, or the snapshot a VM comes from, is not part of the VM
            }
            if (s.option().isEmpty()) {
                Map<String, String> one = new HashMap<>();
                for (Field<?> f : s.fields()) {
                    f.cli().ifPresent(o -> values.getOrDefault(o, List.of()).stream().reduce((a, b) -> b)
                            .ifPresent(v -> one.put(o, v)));
                }
                sections.put(s, List.of(Values.fromOptions(s, one)));
                continue;
            }
            List<String> given = values.getOrDefault(s.option().get(), List.of());
            if (!s.isList() && given.size() > 1) {
                throw new ConfigException(s.option().get() + ": given " + given.size() + " times (once at most)");
            }
            List<Values> read = new ArrayList<>();
            for (String text : given) {
                read.add(Values.fromCommandLine(s, text));
            }
            sections.put(s, read);
        }
        return VmConfig.from(sections);
    }
}
