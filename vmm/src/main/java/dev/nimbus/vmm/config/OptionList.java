package dev.nimbus.vmm.config;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * One option's value in Cloud Hypervisor's syntax: a comma-separated list of {@code key=value} pairs
 * ({@code boot=2,max=4}), where a value may be double-quoted to hold commas ({@code cmdline="a,b"}) and
 * square brackets group a list value ({@code affinity=[0@[0,2]]}). Some options also take a bare word
 * ({@code --serial tty}); {@link #bare()} holds it.
 *
 * <p>Every option goes through this one parser, so every error has the same shape: it names the option,
 * the key and what was expected.
 */
final class OptionList {
    private final String option;
    private final Map<String, String> values;
    private final String bare;

    private OptionList(String option, Map<String, String> values, String bare) {
        this.option = option;
        this.values = values;
        this.bare = bare;
    }

    /**
     * Parses {@code text} for {@code option}. {@code keys} are the keys the option has (those Nimbus refuses
     * as not built yet included: {@link Values} refuses them by name); {@code bareWords} the bare values the
     * option accepts (empty: none).
     */
    static OptionList parse(String option, String text, Set<String> keys, Set<String> bareWords) throws ConfigException {
        return parse(option, text, keys, keys, bareWords, bareWords);
    }

    /**
     * The same, where messages list only the keys in {@code shown} and the bare words in {@code shownWords}
     * as expected (those Nimbus builds).
     */
    static OptionList parse(String option, String text, Set<String> keys, Set<String> shown, Set<String> bareWords,
                            Set<String> shownWords) throws ConfigException {
        if (text == null || text.isBlank()) {
            throw new ConfigException(option + ": empty value (expected " + expected(shown, shownWords) + ")");
        }
        if (text.indexOf('\0') >= 0) {
            // no path, name or number holds one (Path.of would throw; the kernel would cut the string there)
            throw new ConfigException(option + ": contains a NUL character");
        }
        Map<String, String> values = new LinkedHashMap<>();
        String bare = null;
        for (String item : split(option, text)) {
            int eq = item.indexOf('=');
            if (eq < 0) {
                if (bareWords.contains(item) && bare == null && values.isEmpty()) {
                    bare = item;
                    continue;
                }
                throw new ConfigException(option + ": '" + item + "' is not key=value (expected " + expected(shown, shownWords) + ")");
            }
            String key = item.substring(0, eq).strip();
            String value = unquote(item.substring(eq + 1).strip());
            if (!keys.contains(key)) {
                throw new ConfigException(option + ": unknown key '" + key + "' (expected " + expected(shown, shownWords) + ")");
            }
            if (values.putIfAbsent(key, value) != null) {
                throw new ConfigException(option + ": key '" + key + "' given twice");
            }
        }
        if (bare != null && !values.isEmpty()) {
            throw new ConfigException(option + ": '" + bare + "' cannot be combined with key=value pairs");
        }
        return new OptionList(option, values, bare);
    }

    private static String expected(Set<String> keys, Set<String> bareWords) {
        List<String> parts = new ArrayList<>(bareWords.stream().sorted().toList());
        keys.stream().sorted().map(k -> k + "=").forEach(parts::add);
        return String.join(", ", parts);
    }

    /** Splits on commas that are outside quotes and brackets. */
    private static List<String> split(String option, String text) throws ConfigException {
        List<String> items = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        boolean quoted = false;
        int depth = 0;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '"') {
                quoted = !quoted;
            } else if (!quoted && c == '[') {
                depth++;
            } else if (!quoted && c == ']') {
                if (--depth < 0) {
                    throw new ConfigException(option + ": unbalanced ']' in '" + text + "'");
                }
            } else if (!quoted && depth == 0 && c == ',') {
                addItem(option, text, items, cur);
                cur.setLength(0);
                continue;
            }
            cur.append(c);
        }
        if (quoted) {
            throw new ConfigException(option + ": unterminated quote in '" + text + "'");
        }
        if (depth != 0) {
            throw new ConfigException(option + ": unbalanced '[' in '" + text + "'");
        }
        addItem(option, text, items, cur);
        return items;
    }

    private static void addItem(String option, String text, List<String> items, StringBuilder cur) throws ConfigException {
        String item = cur.toString().strip();
        if (item.isEmpty()) {
            throw new ConfigException(option + ": empty item in '" + text + "'");
        }
        items.add(item);
    }

    private static String unquote(String v) {
        return v.length() >= 2 && v.startsWith("\"") && v.endsWith("\"") ? v.substring(1, v.length() - 1) : v;
    }

    /** The bare word given instead of key=value pairs, if any. */
    Optional<String> bare() {
        return Optional.ofNullable(bare);
    }

    boolean has(String key) {
        return values.containsKey(key);
    }

    /** The value as given, empty included ({@code tap=} asks for a generated name); absent when not given. */
    Optional<String> raw(String key) {
        return Optional.ofNullable(values.get(key));
    }

    /** The option's name, for messages: {@code --memory}. */
    public String option() {
        return option;
    }
}
