package dev.nimbus.vmm.config;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
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
public final class OptionList {
    private final String option;
    private final Map<String, String> values;
    private final String bare;

    private OptionList(String option, Map<String, String> values, String bare) {
        this.option = option;
        this.values = values;
        this.bare = bare;
    }

    /**
     * Parses {@code text} for {@code option}. {@code keys} are the keys the option has; {@code unsupported}
     * those Cloud Hypervisor has that Nimbus does not implement yet (an error says so, rather than
     * silently ignoring them); {@code bareWords} the bare values the option accepts (empty: none).
     */
    public static OptionList parse(String option, String text, Set<String> keys, Set<String> unsupported,
                                   Set<String> bareWords) throws ConfigException {
        if (text == null || text.isBlank()) {
            throw new ConfigException(option + ": empty value (expected " + expected(keys, bareWords) + ")");
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
                throw new ConfigException(option + ": '" + item + "' is not key=value (expected " + expected(keys, bareWords) + ")");
            }
            String key = item.substring(0, eq).strip();
            String value = unquote(item.substring(eq + 1).strip());
            if (unsupported.contains(key)) {
                throw new ConfigException(option + " " + key + ": not supported yet");
            }
            if (!keys.contains(key)) {
                throw new ConfigException(option + ": unknown key '" + key + "' (expected " + expected(keys, bareWords) + ")");
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
    public Optional<String> bare() {
        return Optional.ofNullable(bare);
    }

    public boolean has(String key) {
        return values.containsKey(key);
    }

    public Optional<String> string(String key) throws ConfigException {
        String v = values.get(key);
        if (v != null && v.isEmpty()) {
            throw new ConfigException(option + " " + key + ": empty value");
        }
        return Optional.ofNullable(v);
    }

    /** The value as given, empty included ({@code tap=} asks for a generated name); absent when not given. */
    public Optional<String> raw(String key) {
        return Optional.ofNullable(values.get(key));
    }

    /** {@code on}/{@code off} (also {@code true}/{@code false}); {@code dflt} when absent. */
    public boolean toggle(String key, boolean dflt) throws ConfigException {
        String v = values.get(key);
        if (v == null) {
            return dflt;
        }
        return switch (v.toLowerCase(Locale.ROOT)) {
            case "on", "true" -> true;
            case "off", "false" -> false;
            default -> throw new ConfigException(option + " " + key + ": expected on or off, got '" + v + "'");
        };
    }

    /** A decimal integer in {@code [min, max]}; {@code dflt} when absent. */
    public long integer(String key, long dflt, long min, long max) throws ConfigException {
        String v = values.get(key);
        if (v == null) {
            return dflt;
        }
        long n;
        try {
            n = Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new ConfigException(option + " " + key + ": expected a whole number, got '" + v + "'");
        }
        if (n < min || n > max) {
            throw new ConfigException(option + " " + key + ": " + n + " is out of range (" + min + " to " + max + ")");
        }
        return n;
    }

    /**
     * A byte size with an optional K, M or G suffix (powers of 1024, as Cloud Hypervisor reads them); a
     * plain number is bytes. {@code dflt} when absent.
     */
    public long size(String key, long dflt) throws ConfigException {
        String v = values.get(key);
        if (v == null) {
            return dflt;
        }
        return parseSize(option + " " + key, v);
    }

    static long parseSize(String what, String v) throws ConfigException {
        String s = v.strip();
        long unit = 1;
        char last = s.isEmpty() ? ' ' : Character.toUpperCase(s.charAt(s.length() - 1));
        switch (last) {
            case 'K' -> unit = 1L << 10;
            case 'M' -> unit = 1L << 20;
            case 'G' -> unit = 1L << 30;
            case 'T' -> unit = 1L << 40;
            default -> { }
        }
        String digits = unit == 1 ? s : s.substring(0, s.length() - 1);
        long n;
        try {
            n = Long.parseLong(digits);
        } catch (NumberFormatException e) {
            throw new ConfigException(what + ": expected a size such as 512M or 2G, got '" + v + "'");
        }
        if (n < 0 || (n > 0 && Long.MAX_VALUE / unit < n)) {
            throw new ConfigException(what + ": size '" + v + "' is out of range");
        }
        return n * unit;
    }

    /** The option's name, for messages: {@code --memory}. */
    public String option() {
        return option;
    }
}
