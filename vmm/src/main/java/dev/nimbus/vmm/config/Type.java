package dev.nimbus.vmm.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.BooleanNode;
import com.fasterxml.jackson.databind.node.LongNode;
import com.fasterxml.jackson.databind.node.TextNode;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * How a {@link Field}'s value is written on each front end: as a word on the command line ({@code on},
 * {@code 512M}, {@code /var/a.raw}) and as a JSON value in the REST API's VmConfig ({@code true},
 * {@code 536870912}, {@code "/var/a.raw"}). A value that does not fit throws {@link Invalid} with what was
 * expected; the caller adds the field's name as its user wrote it.
 */
public interface Type<T> {
    /** The value as the command line writes it. */
    T fromWord(String word) throws Invalid;

    /** The value as VmConfig JSON writes it (never a JSON null: that is the field left out). */
    T fromJson(JsonNode node) throws Invalid;

    /** The value as vm.info reports it. */
    JsonNode toJson(T value);

    /** What the command line's help shows for the value: {@code PATH}, {@code on|off}, {@code N}. */
    String label();

    /** A value that does not fit its type or its checks; the message says why, without naming the field. */
    final class Invalid extends Exception {
        private static final long serialVersionUID = 1L;

        public Invalid(String problem) {
            super(problem);
        }
    }

    /** {@code on}/{@code off} (also {@code true}/{@code false}) on the command line, a JSON boolean. */
    Type<Boolean> TOGGLE = new Type<>() {
        @Override
        public Boolean fromWord(String word) throws Invalid {
            return switch (word.toLowerCase(Locale.ROOT)) {
                case "on", "true" -> true;
                case "off", "false" -> false;
                default -> throw new Invalid("expected on or off, got '" + word + "'");
            };
        }

        @Override
        public Boolean fromJson(JsonNode node) throws Invalid {
            if (!node.isBoolean()) {
                throw new Invalid("expected a boolean, got " + jsonType(node));
            }
            return node.booleanValue();
        }

        @Override
        public JsonNode toJson(Boolean value) {
            return BooleanNode.valueOf(value);
        }

        @Override
        public String label() {
            return "on|off";
        }
    };

    /**
     * A switch given bare on the command line ({@code --landlock}: on; {@code on}/{@code off} are taken too),
     * a JSON boolean.
     */
    Type<Boolean> FLAG = new Type<>() {
        @Override
        public Boolean fromWord(String word) throws Invalid {
            return word.isEmpty() || TOGGLE.fromWord(word);
        }

        @Override
        public Boolean fromJson(JsonNode node) throws Invalid {
            return TOGGLE.fromJson(node);
        }

        @Override
        public JsonNode toJson(Boolean value) {
            return TOGGLE.toJson(value);
        }

        @Override
        public String label() {
            return "";
        }
    };

    /** A whole number: decimal on the command line, a JSON integer. */
    Type<Long> INTEGER = new Type<>() {
        @Override
        public Long fromWord(String word) throws Invalid {
            try {
                return Long.parseLong(word);
            } catch (NumberFormatException e) {
                throw new Invalid("expected a whole number, got '" + word + "'");
            }
        }

        @Override
        public Long fromJson(JsonNode node) throws Invalid {
            if (!node.isIntegralNumber() || !node.canConvertToLong()) {
                throw new Invalid("expected an integer, got " + jsonType(node));
            }
            return node.longValue();
        }

        @Override
        public JsonNode toJson(Long value) {
            return LongNode.valueOf(value);
        }

        @Override
        public String label() {
            return "N";
        }
    };

    /**
     * A byte size: on the command line with an optional K, M, G or T suffix (powers of 1024, as Cloud
     * Hypervisor reads them; a plain number is bytes), in JSON an integer number of bytes.
     */
    Type<Long> SIZE = new Type<>() {
        @Override
        public Long fromWord(String word) throws Invalid {
            String s = word.strip();
            long unit = switch (s.isEmpty() ? ' ' : Character.toUpperCase(s.charAt(s.length() - 1))) {
                case 'K' -> 1L << 10;
                case 'M' -> 1L << 20;
                case 'G' -> 1L << 30;
                case 'T' -> 1L << 40;
                default -> 1;
            };
            String digits = unit == 1 ? s : s.substring(0, s.length() - 1);
            long n;
            try {
                n = Long.parseLong(digits);
            } catch (NumberFormatException e) {
                throw new Invalid("expected a size such as 512M or 2G, got '" + word + "'");
            }
            if (n < 0 || (n > 0 && Long.MAX_VALUE / unit < n)) {
                throw new Invalid("size '" + word + "' is out of range");
            }
            return n * unit;
        }

        @Override
        public Long fromJson(JsonNode node) throws Invalid {
            return INTEGER.fromJson(node);
        }

        @Override
        public JsonNode toJson(Long value) {
            return LongNode.valueOf(value);
        }

        @Override
        public String label() {
            return "SIZE";
        }
    };

    /** Text: a word on the command line, a JSON string. */
    Type<String> TEXT = text("STRING");

    /** A host path: a word on the command line, a JSON string. */
    Type<Path> PATH = new Type<>() {
        @Override
        public Path fromWord(String word) throws Invalid {
            try {
                return Path.of(word);
            } catch (InvalidPathException e) {
                throw new Invalid("not a usable path: " + e.getReason());
            }
        }

        @Override
        public Path fromJson(JsonNode node) throws Invalid {
            return fromWord(TEXT.fromJson(node));
        }

        @Override
        public JsonNode toJson(Path value) {
            return TextNode.valueOf(value.toString());
        }

        @Override
        public String label() {
            return "PATH";
        }
    };

    /** A UUID in its usual text form ({@code 4c4c4544-0051-3710-8057-b5c04f4b4e31}). */
    Type<java.util.UUID> UUID = new Type<>() {
        @Override
        public java.util.UUID fromWord(String word) throws Invalid {
            if (!word.matches("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")) {
                throw new Invalid("'" + word + "' is not a UUID (expected 8-4-4-4-12 hexadecimal digits)");
            }
            return java.util.UUID.fromString(word);
        }

        @Override
        public java.util.UUID fromJson(JsonNode node) throws Invalid {
            return fromWord(TEXT.fromJson(node));
        }

        @Override
        public JsonNode toJson(java.util.UUID value) {
            return TextNode.valueOf(value.toString());
        }

        @Override
        public String label() {
            return "UUID";
        }
    };

    /**
     * A list of {@code element}s: {@code [a,b]} on the command line (Cloud Hypervisor's brackets; a single
     * word without them is a list of one), a JSON array of strings.
     */
    static Type<java.util.List<String>> textList(Type<String> element) {
        return new Type<>() {
            @Override
            public java.util.List<String> fromWord(String word) throws Invalid {
                String inner = word.startsWith("[") && word.endsWith("]") ? word.substring(1, word.length() - 1) : word;
                java.util.List<String> out = new java.util.ArrayList<>();
                if (!inner.isEmpty()) {
                    for (String w : inner.split(",", -1)) {
                        out.add(element.fromWord(w));
                    }
                }
                return java.util.List.copyOf(out);
            }

            @Override
            public java.util.List<String> fromJson(JsonNode node) throws Invalid {
                if (!node.isArray()) {
                    throw new Invalid("expected an array of strings, got " + jsonType(node));
                }
                java.util.List<String> out = new java.util.ArrayList<>();
                for (JsonNode n : node) {
                    out.add(element.fromJson(n));
                }
                return java.util.List.copyOf(out);
            }

            @Override
            public JsonNode toJson(java.util.List<String> value) {
                com.fasterxml.jackson.databind.node.ArrayNode a = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.arrayNode();
                value.forEach(v -> a.add(element.toJson(v)));
                return a;
            }

            @Override
            public String label() {
                return "[" + element.label() + ",...]";
            }
        };
    }

    /**
     * Any JSON value, kept as it is: what a setting Nimbus does not build holds (an object such as
     * {@code cpus.features}, a list). On the command line the word is kept as a JSON string.
     */
    Type<JsonNode> JSON = new Type<>() {
        @Override
        public JsonNode fromWord(String word) {
            return TextNode.valueOf(word);
        }

        @Override
        public JsonNode fromJson(JsonNode node) {
            return node;
        }

        @Override
        public JsonNode toJson(JsonNode value) {
            return value;
        }

        @Override
        public String label() {
            return "VALUE";
        }
    };

    /**
     * One of a few names: Cloud Hypervisor writes them capitalised in JSON ({@code "ByteRange"}) and as
     * lower-case words on the command line ({@code byte-range}, in any case). The value is the JSON name.
     * {@code words} maps each command-line word to its JSON name.
     */
    static Type<String> choice(java.util.Map<String, String> words) {
        java.util.Set<String> names = java.util.Set.copyOf(words.values());
        String expected = String.join(", ", new java.util.TreeSet<>(names));
        return new Type<>() {
            @Override
            public String fromWord(String word) throws Invalid {
                String name = words.get(word.toLowerCase(Locale.ROOT));
                if (name == null) {
                    throw new Invalid("expected one of " + String.join(", ", new java.util.TreeSet<>(words.keySet()))
                            + ", got '" + word + "'");
                }
                return name;
            }

            @Override
            public String fromJson(JsonNode node) throws Invalid {
                String name = TEXT.fromJson(node);
                if (!names.contains(name)) {
                    throw new Invalid("expected one of " + expected + ", got '" + name + "'");
                }
                return name;
            }

            @Override
            public JsonNode toJson(String value) {
                return TextNode.valueOf(value);
            }

            @Override
            public String label() {
                return String.join("|", new java.util.TreeSet<>(words.keySet()));
            }
        };
    }

    /** Text whose help label is {@code label} ({@code MAC}, {@code NAME}). */
    static Type<String> text(String label) {
        return new Type<>() {
            @Override
            public String fromWord(String word) {
                return word;
            }

            @Override
            public String fromJson(JsonNode node) throws Invalid {
                if (!node.isTextual()) {
                    throw new Invalid("expected a string, got " + jsonType(node));
                }
                return node.textValue();
            }

            @Override
            public JsonNode toJson(String value) {
                return TextNode.valueOf(value);
            }

            @Override
            public String label() {
                return label;
            }
        };
    }

    /** "a string", "an array": how a message names a JSON value's type. */
    static String jsonType(JsonNode n) {
        return switch (n.getNodeType()) {
            case STRING -> "a string";
            case NUMBER -> "a number";
            case BOOLEAN -> "a boolean";
            case ARRAY -> "an array";
            case OBJECT -> "an object";
            case NULL -> "null";
            default -> n.getNodeType().toString().toLowerCase(Locale.ROOT);
        };
    }
}
