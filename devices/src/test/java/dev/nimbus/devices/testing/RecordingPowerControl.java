package dev.nimbus.devices.testing;

import dev.nimbus.devices.power.PowerControl;

import java.util.ArrayList;
import java.util.List;

/** Remembers the power requests a device made. */
public final class RecordingPowerControl implements PowerControl {
    private final List<String> requests = new ArrayList<>();

    @Override
    public synchronized void requestPowerOff() {
        requests.add("power off");
    }

    @Override
    public synchronized void requestReset() {
        requests.add("reset");
    }

    public synchronized List<String> requests() {
        return List.copyOf(requests);
    }
}
