package dev.nimbus.arch.x86_64.emulator;

import java.util.Arrays;

/** Registers in an array, as a backend would hold those its intercept message carried. */
final class TestRegisters implements Registers {
    final long[] gprs = new long[16];
    long rip;
    long rflags = 0x2;

    static TestRegisters at(long rip) {
        TestRegisters r = new TestRegisters();
        r.rip = rip;
        return r;
    }

    TestRegisters with(int index, long value) {
        gprs[index] = value;
        return this;
    }

    TestRegisters copy() {
        TestRegisters r = new TestRegisters();
        System.arraycopy(gprs, 0, r.gprs, 0, 16);
        r.rip = rip;
        r.rflags = rflags;
        return r;
    }

    @Override
    public long gpr(int index) {
        return gprs[index];
    }

    @Override
    public void setGpr(int index, long value) {
        gprs[index] = value;
    }

    @Override
    public long rip() {
        return rip;
    }

    @Override
    public void setRip(long value) {
        rip = value;
    }

    @Override
    public long rflags() {
        return rflags;
    }

    @Override
    public void setRflags(long value) {
        rflags = value;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TestRegisters r && Arrays.equals(gprs, r.gprs) && rip == r.rip && rflags == r.rflags;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(gprs) ^ Long.hashCode(rip) ^ Long.hashCode(rflags);
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < 16; i++) {
            s.append(String.format("r%d=%x ", i, gprs[i]));
        }
        return s.append(String.format("rip=%x rflags=%x", rip, rflags)).toString();
    }
}
