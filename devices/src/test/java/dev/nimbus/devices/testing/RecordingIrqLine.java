package dev.nimbus.devices.testing;

import dev.nimbus.devices.interrupt.IrqLine;

import java.util.ArrayList;
import java.util.List;

/** An interrupt line that remembers its level and every change, for tests. */
public final class RecordingIrqLine implements IrqLine {
    private final List<Boolean> levels = new ArrayList<>();
    private boolean high;

    @Override
    public synchronized void set(boolean high) {
        this.high = high;
        levels.add(high);
    }

    public synchronized boolean high() {
        return high;
    }

    /** Every level set, in order. */
    public synchronized List<Boolean> levels() {
        return List.copyOf(levels);
    }
}
