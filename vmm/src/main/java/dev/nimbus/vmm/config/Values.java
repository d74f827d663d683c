package dev.nimbus.vmm.config;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;

/**
 * One {@link Section}'s values as a user gave them, on the command line or in VmConfig JSON, each read by
 * its field's {@link Type} and checked against the field's checks. Every error names the field as that user
 * wrote it ({@code --disk queue_size}, {@code disks[0].queue_size}), so the config records' own checks across
 * fields go through {@link #wrong} too.
 */
public final class Values {
    private final Section section;
    private final boolean fromJson;
    private final int index;
    private final Map<Field<?>, Object> values = new HashMap<>();

    private Values(Section section, boolean fromJson, int index) {
        this.section = section;
        this.fromJson = fromJson;
        this.index = index;
    }

    /** One value of {@code section}'s option in Cloud Hypervisor's syntax ({@code path=a.raw,readonly=on}). */
    public static Values fromCommandLine(Section section, String text) throws ConfigException {
        String option = section.option().orElseThrow(() -> new IllegalArgumentException(section + " has no option"));
        OptionList o = OptionList.parse(option, text, section.cliKeys(), section.builtCliKeys(), section.bareWords(),
                section.shownBareWords());
        Values v = new Values(section, false, 0);
        for (Field<?> f : section.fields()) {
            if (section.bareField().orElse(null) == f) {
                if (o.bare().isPresent()) {
                    v.putWord(f, o.bare().get());
                }
            } else if (f.cli().isPresent() && o.has(f.cli().get())) {
                v.putWord(f, o.raw(f.cli().get()).orElseThrow());
            }
        }
        return v.complete();
    }

    /** A section of one-value options ({@code --kernel}): {@code given} maps an option to its value, null when absent. */
    public static Values fromOptions(Section section, Map<String, String> given) throws ConfigException {
        Values v = new Values(section, false, 0);
        for (Field<?> f : section.fields()) {
            String word = f.cli().map(given::get).orElse(null);
            if (word != null) {
                if (word.indexOf('\0') >= 0) {
                    throw v.wrong(f, "contains a NUL character");
                }
                v.putWord(f, word);
            }
        }
        return v.complete();
    }

    /** {@code section}'s JSON object ({@code index}: its place in a JSON array, 0 for a single object). */
    public static Values fromJson(Section section, JsonNode node, int index) throws ConfigException {
        Values v = new Values(section, true, index);
        if (!node.isObject()) {
            throw new ConfigException(section.jsonName(index) + ": expected a JSON object, got " + Type.jsonType(node));
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = node.properties().iterator(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            Field<?> f = section.fields().stream().filter(x -> x.json().orElse("").equals(e.getKey())).findFirst()
                    .orElseThrow(() -> new ConfigException(section.memberPath(e.getKey(), index) + ": unknown field"));
            if (!e.getValue().isNull()) {
                v.putJson(f, e.getValue()); // an explicit null is the same as leaving the field out
            }
        }
        return v.complete();
    }

    private <T> void putWord(Field<T> f, String word) throws ConfigException {
        if (f.isNotYet()) {
            refuseUnlessItAsksForNothing(f, word.isEmpty() ? null : word, word);
            return;
        }
        if (word.isEmpty() && !f.mayBeGivenEmpty()) {
            throw wrong(f, "empty value");
        }
        try {
            put(f, f.type().fromWord(word));
        } catch (Type.Invalid e) {
            throw wrong(f, e.getMessage());
        }
    }

    private <T> void putJson(Field<T> f, JsonNode node) throws ConfigException {
        if (f.isNotYet()) {
            refuseUnlessItAsksForNothing(f, node, node.toString());
            return;
        }
        if (node.isTextual() && node.textValue().indexOf('\0') >= 0) {
            // no path, name or command line can hold one; Path.of would throw, the kernel would cut there
            throw wrong(f, "contains a NUL character");
        }
        if (node.isTextual() && node.textValue().isEmpty() && !f.mayBeGivenEmpty()) {
            throw wrong(f, "empty value");
        }
        try {
            put(f, f.type().fromJson(node));
        } catch (Type.Invalid e) {
            throw wrong(f, e.getMessage());
        }
    }

    /**
     * A setting Nimbus does not build is accepted only where it asks for nothing (at Cloud Hypervisor's
     * default, say, as clients that write every field send it); {@code given} is a command-line word or a JSON
     * node (null: a bare option), {@code written} the value as its user wrote it.
     */
    private <T> void refuseUnlessItAsksForNothing(Field<T> f, Object given, String written) throws ConfigException {
        if (given != null) {
            try {
                T value = given instanceof JsonNode node ? f.type().fromJson(node) : f.type().fromWord((String) given);
                if (f.asksForNothing(value)) {
                    return;
                }
            } catch (Type.Invalid e) {
                // not even a value of the setting's type: refused below like any other
            }
        }
        throw wrong(f, f.notYetProblem(written));
    }

    private <T> void put(Field<T> f, T value) throws ConfigException {
        String problem = f.problem(value);
        if (problem != null) {
            throw wrong(f, problem);
        }
        values.put(f, value);
    }

    private Values complete() throws ConfigException {
        for (Field<?> f : section.fields()) {
            if (f.isRequired() && !values.containsKey(f)) {
                throw wrong(f, "required");
            }
        }
        return this;
    }

    /** Whether the user gave {@code f}. */
    public boolean given(Field<?> f) {
        return values.containsKey(f);
    }

    /** {@code f}'s value, or its default; null when neither. */
    @SuppressWarnings("unchecked")
    public <T> T get(Field<T> f) {
        checkMine(f);
        Object v = values.get(f);
        return v != null ? (T) v : f.defaultValue().orElse(null);
    }

    /** {@code f}'s value or default, empty when neither. */
    public <T> Optional<T> find(Field<T> f) {
        return Optional.ofNullable(get(f));
    }

    /** A number field's value as an int (its checks bound it). */
    public int integer(Field<Long> f) {
        return Math.toIntExact(get(f));
    }

    /** An error about {@code f}, named as this user wrote it. */
    public ConfigException wrong(Field<?> f, String problem) {
        checkMine(f);
        return new ConfigException(where(f) + ": " + problem);
    }

    /** {@code f} as this user wrote it: {@code --disk queue_size} or {@code disks[0].queue_size}. */
    public String where(Field<?> f) {
        return fromJson ? f.jsonPath(index) : f.option();
    }

    /** The section the values are of. */
    public Section section() {
        return section;
    }

    /** Whether the values came from VmConfig JSON rather than the command line. */
    public boolean isJson() {
        return fromJson;
    }

    private void checkMine(Field<?> f) {
        if (f.section() != section) {
            throw new IllegalArgumentException(f + " is not a field of " + section);
        }
    }
}
