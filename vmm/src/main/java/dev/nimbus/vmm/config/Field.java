package dev.nimbus.vmm.config;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * One setting of a configuration {@link Section}, declared once in {@link Schema} for both front ends: its
 * key on the command line ({@code queue_size} of {@code --disk}, or a whole option such as {@code --kernel}),
 * its name in the REST API's VmConfig JSON, its {@link Type}, default and checks. A field Cloud Hypervisor
 * has and Nimbus does not build yet is declared too, {@linkplain #notYet refused} by name whenever it is
 * given; either name may be missing where Cloud Hypervisor has the setting on one front end only.
 */
public final class Field<T> {
    /** A check on a value: the problem with it, or null when it is fine. */
    @FunctionalInterface
    public interface Check<T> {
        String problem(T value);
    }

    private final String cli;
    private final String json;
    private final Type<T> type;
    private final T dflt;
    private final boolean required;
    private final List<Check<T>> checks;
    private final String notYet;
    private final boolean mayBeEmpty;
    private final List<T> alsoNothing;
    private final String help;
    private Section section;

    private Field(String cli, String json, Type<T> type, T dflt, boolean required, List<Check<T>> checks, String notYet,
                  boolean mayBeEmpty, String help, List<T> alsoNothing) {
        this.mayBeEmpty = mayBeEmpty;
        this.help = help;
        this.alsoNothing = List.copyOf(alsoNothing);
        this.cli = cli;
        this.json = json;
        this.type = type;
        this.dflt = dflt;
        this.required = required;
        this.checks = List.copyOf(checks);
        this.notYet = notYet;
    }

    /** A field named {@code name} on both front ends. */
    static <T> Field<T> of(String name, Type<T> type) {
        return new Field<>(name, name, type, null, false, List.of(), null, false, "", List.of());
    }

    /** A field the command line calls {@code cli} and VmConfig JSON {@code json}; null: that front end has none. */
    static <T> Field<T> of(String cli, String json, Type<T> type) {
        return new Field<>(cli, json, type, null, false, List.of(), null, false, "", List.of());
    }

    /**
     * A setting Cloud Hypervisor has that Nimbus refuses until it is built ("not supported yet", then
     * {@code why} in brackets where given), under its command-line and JSON names (null where it has none).
     * Any value is refused, except in JSON an empty list (which asks for nothing).
     */
    static Field<JsonNode> notYet(String cli, String json, String why) {
        return new Field<>(cli, json, Type.JSON, null, false, List.of(), why == null ? "" : why, false, "", List.of());
    }

    /**
     * A setting Cloud Hypervisor has that Nimbus does not build, accepted at {@code dflt}, Cloud
     * Hypervisor's default (a client that writes every field sends it; it asks for nothing), and refused
     * with "not supported yet" at any other value.
     */
    static <T> Field<T> notYet(String cli, String json, Type<T> type, T dflt) {
        return new Field<>(cli, json, type, dflt, false, List.of(), "", false, "", List.of());
    }

    /** A setting whose JSON value Nimbus accepts only at {@code dflt}, a JSON object, or any part of it. */
    static Field<JsonNode> notYetObject(String cli, String json, String dflt) {
        try {
            return new Field<>(cli, json, Type.JSON, new com.fasterxml.jackson.databind.ObjectMapper().readTree(dflt),
                    false, List.of(), "", false, "", List.of());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException("not JSON: " + dflt, e);
        }
    }

    /** This not-built field also asks for nothing at {@code value} (as well as at its default). */
    Field<T> also(T value) {
        List<T> more = new ArrayList<>(alsoNothing);
        more.add(value);
        return new Field<>(cli, json, type, dflt, required, checks, notYet, mayBeEmpty, help, more);
    }

    /** The same not-built field with {@code why} after its refusal. */
    Field<T> because(String why) {
        return new Field<>(cli, json, type, dflt, required, checks, why, mayBeEmpty, help, alsoNothing);
    }

    /** The same field with {@code dflt} when it is not given. */
    Field<T> byDefault(T dflt) {
        return new Field<>(cli, json, type, dflt, required, checks, notYet, mayBeEmpty, help, alsoNothing);
    }

    /** The same field, which must be given. */
    Field<T> required() {
        return new Field<>(cli, json, type, dflt, true, checks, notYet, mayBeEmpty, help, alsoNothing);
    }

    /** The same field, which may be given empty ({@code tap=}: a name the host picks); others refuse that. */
    Field<T> mayBeEmpty() {
        return new Field<>(cli, json, type, dflt, required, checks, notYet, true, help, alsoNothing);
    }

    /** The same field with the command line's help, for a field that is an option of its own ({@code --kernel}). */
    Field<T> help(String text) {
        return new Field<>(cli, json, type, dflt, required, checks, notYet, mayBeEmpty, text, alsoNothing);
    }

    /** The command line's help for a field that is an option of its own; empty for others. */
    public String help() {
        return help;
    }

    /** The same field with one more check. */
    Field<T> check(Check<T> check) {
        List<Check<T>> more = new ArrayList<>(checks);
        more.add(check);
        return new Field<>(cli, json, type, dflt, required, more, notYet, mayBeEmpty, help, alsoNothing);
    }

    /**
     * The same field, refusing the values {@code unbuilt} matches because Nimbus does not build them yet;
     * {@code problem} says so for a value ({@code 4 queues are not supported yet (...)}).
     */
    Field<T> notYetWhen(Predicate<T> unbuilt, Function<T, String> problem) {
        return check(v -> unbuilt.test(v) ? problem.apply(v) : null);
    }

    /** A whole number in {@code [min, max]}. */
    static Check<Long> range(long min, long max) {
        return v -> v < min || v > max ? v + " is out of range (" + min + " to " + max + ")" : null;
    }

    void attach(Section section) {
        if (this.section != null) {
            throw new IllegalStateException("field " + this + " is in two sections");
        }
        this.section = section;
    }

    /** The section the field belongs to. */
    public Section section() {
        return section;
    }

    /** The key on the command line ({@code queue_size}), or the option for a section of options; empty: none. */
    public Optional<String> cli() {
        return Optional.ofNullable(cli);
    }

    /** The field's name in VmConfig JSON ({@code queue_size}); empty: none. */
    public Optional<String> json() {
        return Optional.ofNullable(json);
    }

    public Type<T> type() {
        return type;
    }

    /** The value when the field is not given; empty: none (the field is then absent). */
    public Optional<T> defaultValue() {
        return Optional.ofNullable(dflt);
    }

    public boolean mayBeGivenEmpty() {
        return mayBeEmpty;
    }

    public boolean isRequired() {
        return required;
    }

    /** Whether the field is refused whenever it is given (Nimbus does not build it yet). */
    public boolean isNotYet() {
        return notYet != null;
    }

    /**
     * The refusal of a field that is {@linkplain #isNotYet not built yet}, given as {@code written} (the
     * value as its user wrote it; empty for a bare option such as {@code --landlock}).
     */
    String notYetProblem(String written) {
        String value = written.length() > 40 ? written.substring(0, 37) + "..." : written;
        return (value.isEmpty() ? "" : value + " is ") + "not supported yet" + (notYet.isEmpty() ? "" : " (" + notYet + ")");
    }

    /**
     * Whether a value of a field that is {@linkplain #isNotYet not built yet} asks for nothing: Cloud
     * Hypervisor's default, an empty JSON list, or (for a JSON object default) members all at their defaults.
     */
    boolean asksForNothing(T value) {
        if (value instanceof com.fasterxml.jackson.databind.JsonNode node) {
            if (node.isArray() && node.isEmpty()) {
                return true;
            }
            if (dflt instanceof JsonNode d && d.isObject() && node.isObject()) {
                for (var it = node.properties().iterator(); it.hasNext(); ) {
                    var member = it.next();
                    if (!member.getValue().equals(d.get(member.getKey()))) {
                        return false;
                    }
                }
                return true;
            }
        }
        return dflt != null && dflt.equals(value) || alsoNothing.contains(value);
    }

    /** The first problem of {@code value} against the checks, or null. */
    String problem(T value) {
        for (Check<T> c : checks) {
            String p = c.problem(value);
            if (p != null) {
                return p;
            }
        }
        return null;
    }

    /** As the command line names it: {@code --disk queue_size}, {@code --kernel}. */
    public String option() {
        return section.optionName(this);
    }

    /** As VmConfig JSON names it, with {@code [i]} for an entry of a list: {@code disks[0].queue_size}. */
    public String jsonPath(int index) {
        return section.jsonPath(this, index);
    }

    @Override
    public String toString() {
        return cli != null ? cli : String.valueOf(json);
    }
}
