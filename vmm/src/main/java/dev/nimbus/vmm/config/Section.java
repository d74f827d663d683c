package dev.nimbus.vmm.config;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * One part of a VM's configuration as both front ends name it: a command-line option with
 * {@code key=value} pairs ({@code --disk}) and a VmConfig JSON member ({@code disks}, a list), or a group of
 * options each holding one value ({@code --kernel}, {@code --cmdline} as {@code payload.kernel},
 * {@code payload.cmdline}). Declared in {@link Schema} with its {@link Field}s; {@link Values} reads one.
 */
public final class Section {
    private final String option;
    private final String json;
    private final boolean list;
    private final String description;
    private final List<Field<?>> fields;
    private final Field<?> bareField;
    private final Set<String> bareWords;
    private final Set<String> shownBareWords;

    private Section(String option, String json, boolean list, String description, List<Field<?>> fields,
                    Field<?> bareField, Set<String> bareWords, Set<String> shownBareWords) {
        this.option = option;
        this.json = json;
        this.list = list;
        this.description = description;
        this.fields = List.copyOf(fields);
        this.bareField = bareField;
        this.bareWords = Set.copyOf(bareWords);
        this.shownBareWords = Set.copyOf(shownBareWords);
        for (Field<?> f : fields) {
            f.attach(this);
        }
    }

    /** A command-line option of key=value pairs, {@code json} its VmConfig member (null: none). */
    static Section of(String option, String json, String description, Field<?>... fields) {
        return new Section(option, json, false, description, List.of(fields), null, Set.of(), Set.of());
    }

    /** An option given once per device ({@code --disk a --disk b}), a JSON array. */
    static Section listOf(String option, String json, String description, Field<?>... fields) {
        return new Section(option, json, true, description, List.of(fields), null, Set.of(), Set.of());
    }

    /** Options of one value each ({@code --kernel PATH}), fields of one JSON object. */
    static Section options(String json, Field<?>... fields) {
        return new Section(null, json, false, null, List.of(fields), null, Set.of(), Set.of());
    }

    /**
     * An option that also takes a bare word ({@code --serial tty}), which gives {@code bareField}'s value;
     * {@code shown} are the words help and messages offer (the others are refused by the field's type).
     */
    static Section withBareWords(String option, String json, String description, Field<?> bareField, Set<String> words,
                                 Set<String> shown, Field<?>... fields) {
        return new Section(option, json, false, description, List.of(fields), bareField, words, shown);
    }

    /** The option ({@code --disk}); empty for a section of one-value options. */
    public Optional<String> option() {
        return Optional.ofNullable(option);
    }

    /** The VmConfig JSON member ({@code disks}); empty where the REST API has none ({@code --api-socket}). */
    public Optional<String> json() {
        return Optional.ofNullable(json);
    }

    /** Whether the option may be given more than once, a JSON array. */
    public boolean isList() {
        return list;
    }

    public List<Field<?>> fields() {
        return fields;
    }

    /** The field a bare word gives ({@code --serial tty}: the mode), if any. */
    public Optional<Field<?>> bareField() {
        return Optional.ofNullable(bareField);
    }

    Set<String> bareWords() {
        return bareWords;
    }

    Set<String> shownBareWords() {
        return shownBareWords;
    }

    /** The command line's keys, refused ones included. */
    Set<String> cliKeys() {
        return fields.stream().filter(f -> f != bareField).flatMap(f -> f.cli().stream()).collect(Collectors.toSet());
    }

    /** The command line's keys Nimbus builds (those a message lists as expected). */
    Set<String> builtCliKeys() {
        return fields.stream().filter(f -> f != bareField && !f.isNotYet()).flatMap(f -> f.cli().stream())
                .collect(Collectors.toSet());
    }

    /** The command line's help for the value: {@code path=PATH[,readonly=on|off]...}, built fields only. */
    public String paramLabel() {
        List<String> parts = new ArrayList<>();
        if (bareField != null) {
            parts.add(shownBareWords.stream().sorted().collect(Collectors.joining("|")));
        }
        StringBuilder keys = new StringBuilder();
        for (Field<?> f : fields) {
            if (f == bareField || f.isNotYet() || f.cli().isEmpty()) {
                continue;
            }
            String pair = f.cli().get() + "=" + f.type().label();
            boolean first = keys.isEmpty();
            keys.append(f.isRequired() ? (first ? pair : "," + pair) : (first ? "[" + pair + "]" : "[," + pair + "]"));
        }
        if (!keys.isEmpty()) {
            parts.add(keys.toString());
        }
        return String.join("|", parts);
    }

    /** The command line's help for the option. */
    public String description() {
        return description;
    }

    String optionName(Field<?> f) {
        if (option == null) {
            return f.cli().orElse("(" + f.json().orElse("?") + ")");
        }
        return f == bareField || f.cli().isEmpty() ? option : option + " " + f.cli().get();
    }

    String jsonPath(Field<?> f, int index) {
        return memberPath(f.json().orElse(f.cli().orElse("?")), index);
    }

    /** The path of member {@code key} of this section's object: {@code disks[2].path}, or {@code key} alone. */
    String memberPath(String key, int index) {
        return json == null && option == null ? key : jsonName(index) + "." + key;
    }

    /** {@code disks[2]}, {@code cpus}: this section in a VmConfig. */
    String jsonName(int index) {
        if (json == null && option == null) {
            return "the body"; // a REST request's own body (vm.snapshot, vm.restore)
        }
        String name = json != null ? json : String.valueOf(option);
        return list ? name + "[" + index + "]" : name;
    }

    @Override
    public String toString() {
        return option != null ? option : String.valueOf(json);
    }
}
