package dev.nimbus.arch.fdt;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes a flattened device tree blob (the Devicetree Specification's chapter 5, version 17): the
 * 40-byte header, the memory reservation map, the structure block and the strings block, big-endian,
 * laid out the way {@code dtc} lays out what it compiles (reservation map right after the header,
 * structure block, then strings, no padding), so a blob can be compared byte for byte with dtc's.
 *
 * <p>Nodes are opened with {@link #beginNode} and closed with {@link #endNode}; a node's properties come
 * before its child nodes, as the format requires. Property names go into the strings block once: a name
 * that is the tail of one already there (as {@code phandle} is of {@code linux,phandle}) points into it.
 * Misuse (a property after a child node, unbalanced nodes, a bad name) is an {@link IllegalStateException}
 * or {@link IllegalArgumentException}: the tree is Nimbus's own, never guest input.
 */
public final class FdtWriter {
    static final int MAGIC = 0xd00dfeed;
    static final int VERSION = 17;
    static final int LAST_COMPATIBLE_VERSION = 16;
    static final int HEADER_SIZE = 40;
    static final int FDT_BEGIN_NODE = 1;
    static final int FDT_END_NODE = 2;
    static final int FDT_PROP = 3;
    static final int FDT_END = 9;

    private final ByteArrayOutputStream structure = new ByteArrayOutputStream();
    private final StringBuilder strings = new StringBuilder();
    private final List<long[]> reservations = new ArrayList<>();
    /** For each open node: whether a child node has been opened (no more properties then). */
    private final ArrayList<Boolean> open = new ArrayList<>();
    private boolean rootDone;

    /** Adds a memory reservation entry: the guest must not use {@code size} bytes from {@code address}. */
    public FdtWriter reserveMemory(long address, long size) {
        if (size <= 0) {
            throw new IllegalArgumentException("a memory reservation needs a positive size, not " + size);
        }
        reservations.add(new long[] {address, size});
        return this;
    }

    /** Opens a node: {@code ""} for the root, else {@code name} or {@code name@unit-address}. */
    public FdtWriter beginNode(String name) {
        if (rootDone) {
            throw new IllegalStateException("the root node is closed already");
        }
        if (open.isEmpty() != name.isEmpty()) {
            throw new IllegalArgumentException(open.isEmpty()
                    ? "the first node must be the root (\"\"), not \"" + name + "\""
                    : "only the root node has an empty name");
        }
        checkNodeName(name);
        if (!open.isEmpty()) {
            open.set(open.size() - 1, true);
        }
        open.add(false);
        token(FDT_BEGIN_NODE);
        byte[] bytes = name.getBytes(StandardCharsets.US_ASCII);
        structure.writeBytes(bytes);
        structure.write(0);
        pad();
        return this;
    }

    /** Closes the innermost open node. */
    public FdtWriter endNode() {
        if (open.isEmpty()) {
            throw new IllegalStateException("no node is open");
        }
        open.removeLast();
        token(FDT_END_NODE);
        rootDone = open.isEmpty();
        return this;
    }

    /** A property with raw bytes as its value. */
    public FdtWriter property(String name, byte[] value) {
        if (open.isEmpty()) {
            throw new IllegalStateException("property " + name + " outside any node");
        }
        if (open.getLast()) {
            throw new IllegalStateException("property " + name + " after a child node: properties come first");
        }
        checkPropertyName(name);
        token(FDT_PROP);
        token(value.length);
        token(stringOffset(name));
        structure.writeBytes(value);
        pad();
        return this;
    }

    /** A property without a value ({@code interrupt-controller;}). */
    public FdtWriter property(String name) {
        return property(name, new byte[0]);
    }

    /** A property of 32-bit cells ({@code <a b c>}). */
    public FdtWriter cells(String name, int... values) {
        ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.BIG_ENDIAN);
        for (int v : values) {
            b.putInt(v);
        }
        return property(name, b.array());
    }

    /** A property of 64-bit values, each as two cells, high first ({@code /bits/ 64 <a>} or {@code <hi lo>}). */
    public FdtWriter cells64(String name, long... values) {
        ByteBuffer b = ByteBuffer.allocate(8 * values.length).order(ByteOrder.BIG_ENDIAN);
        for (long v : values) {
            b.putLong(v);
        }
        return property(name, b.array());
    }

    /** A string property, or a string list when several are given ({@code "a", "b"}). */
    public FdtWriter string(String name, String... values) {
        if (values.length == 0) {
            throw new IllegalArgumentException("string property " + name + " needs a value");
        }
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (String v : values) {
            if (v.indexOf('\0') >= 0) {
                throw new IllegalArgumentException("string property " + name + " has a NUL inside \"" + v + "\"");
            }
            b.writeBytes(v.getBytes(StandardCharsets.UTF_8));
            b.write(0);
        }
        return property(name, b.toByteArray());
    }

    /** The blob, once the root node is closed. {@code bootCpuidPhys} is the boot CPU's {@code reg}. */
    public byte[] finish(int bootCpuidPhys) {
        if (!rootDone) {
            throw new IllegalStateException(open.isEmpty() ? "the tree has no root node" : open.size() + " node(s) still open");
        }
        byte[] struct = structure.toByteArray();
        byte[] strs = strings.toString().getBytes(StandardCharsets.UTF_8);
        int rsvOffset = HEADER_SIZE; // already 8-byte aligned
        int rsvSize = 16 * (reservations.size() + 1);
        int structOffset = rsvOffset + rsvSize;
        int structSize = struct.length + 4;
        int stringsOffset = structOffset + structSize;
        int total = stringsOffset + strs.length;
        ByteBuffer b = ByteBuffer.allocate(total).order(ByteOrder.BIG_ENDIAN);
        b.putInt(MAGIC).putInt(total).putInt(structOffset).putInt(stringsOffset).putInt(rsvOffset)
                .putInt(VERSION).putInt(LAST_COMPATIBLE_VERSION).putInt(bootCpuidPhys).putInt(strs.length).putInt(structSize);
        for (long[] r : reservations) {
            b.putLong(r[0]).putLong(r[1]);
        }
        b.putLong(0).putLong(0);
        b.put(struct).putInt(FDT_END);
        b.put(strs);
        return b.array();
    }

    private int stringOffset(String name) {
        String z = name + '\0';
        int at = strings.indexOf(z);
        // a match must start at a string's beginning or inside one (a tail), which any match of "x\0" does
        if (at >= 0) {
            return at;
        }
        at = strings.length();
        strings.append(z);
        return at;
    }

    private void token(int value) {
        structure.write(value >>> 24);
        structure.write(value >>> 16);
        structure.write(value >>> 8);
        structure.write(value);
    }

    private void pad() {
        while (structure.size() % 4 != 0) {
            structure.write(0);
        }
    }

    private static void checkNodeName(String name) {
        int at = name.indexOf('@');
        String base = at < 0 ? name : name.substring(0, at);
        if (name.isEmpty()) {
            return;
        }
        if (base.isEmpty() || base.length() > 31 || !base.chars().allMatch(c -> isAlnum(c) || ",._+-".indexOf(c) >= 0)
                || (at >= 0 && (at == name.length() - 1 || !name.substring(at + 1).chars().allMatch(c -> isAlnum(c) || ",._+-".indexOf(c) >= 0)))) {
            throw new IllegalArgumentException("not a device tree node name: \"" + name + "\"");
        }
    }

    private static void checkPropertyName(String name) {
        if (name.isEmpty() || name.length() > 31 || !name.chars().allMatch(c -> isAlnum(c) || ",._+?#-".indexOf(c) >= 0)) {
            throw new IllegalArgumentException("not a device tree property name: \"" + name + "\"");
        }
    }

    private static boolean isAlnum(int c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    }
}
