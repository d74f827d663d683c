package dev.nimbus.devices.ps2;

import dev.nimbus.devices.bus.ByteRegisterDevice;
import dev.nimbus.devices.interrupt.IrqLine;
import dev.nimbus.devices.power.PowerControl;
import dev.nimbus.devices.state.DeviceState;
import dev.nimbus.devices.state.Snapshottable;
import dev.nimbus.devices.state.StateReader;
import dev.nimbus.devices.state.StateWriter;

import java.util.Objects;

/**
 * The PC keyboard controller (8042) with nothing plugged in: no keyboard and no AUX (mouse) port. Nimbus has
 * it for the reset line (command 0xFE, Linux's {@code reboot=k}) and so that Linux's i8042 driver, if it
 * probes, finds a working controller and gives up on the devices at once instead of waiting out timeouts.
 *
 * <p>Offsets: 0 is the data register (port 0x60), 4 the status (read) / command (write) register (0x64).
 * The output buffer holds one byte, as on the chip; a reply to a command replaces an unread byte.
 * <ul>
 *   <li>0x20 / 0x60: read / write the command byte (CTR). 0xAA self-test answers 0x55, 0xAB keyboard
 *       interface test 0x00. 0xAD/0xAE and 0xA7/0xA8 disable/enable the keyboard and AUX ports in the CTR.</li>
 *   <li>0xD0 / 0xD1: read / write the output port; clearing its bit 0 pulls the reset line.
 *       0xF0-0xFF pulse the output lines whose bits are clear in the low nibble: 0xFE pulses reset.
 *       Either way the {@link PowerControl} is asked to reset the machine.</li>
 *   <li>No AUX port: the AUX loop command (0xD3) returns its byte as keyboard-side data (Linux sees that the
 *       loop does not work) and the AUX interface test (0xA9) reports a stuck clock line (0x02), so Linux
 *       decides there is no AUX port without waiting.</li>
 *   <li>No keyboard: a byte written to the keyboard (data register, no command pending) times out: the
 *       status register's timeout bit is set with 0xFE (resend) in the output buffer, and the keyboard
 *       interrupt is raised when the CTR enables it. Linux's libps2 takes 0xFE as a NAK, resends once,
 *       gets the same, and fails the command, so the atkbd probe ends without waiting out its timeouts.</li>
 * </ul>
 */
public final class I8042Controller extends ByteRegisterDevice implements Snapshottable {
    /** Offsets of the two registers from the base port. */
    public static final int DATA = 0, COMMAND = 4;

    // Status register bits.
    static final int STR_OBF = 0x01, STR_SYS = 0x04, STR_CMD = 0x08, STR_UNLOCKED = 0x10, STR_AUXDATA = 0x20,
            STR_TIMEOUT = 0x40;
    // Command byte (CTR) bits.
    static final int CTR_KBDINT = 0x01, CTR_SYS = 0x04, CTR_KBDDIS = 0x10, CTR_AUXDIS = 0x20, CTR_XLATE = 0x40;
    // Commands.
    static final int CMD_READ_CTR = 0x20, CMD_WRITE_CTR = 0x60, CMD_AUX_DISABLE = 0xa7, CMD_AUX_ENABLE = 0xa8,
            CMD_AUX_TEST = 0xa9, CMD_SELF_TEST = 0xaa, CMD_KBD_TEST = 0xab, CMD_KBD_DISABLE = 0xad,
            CMD_KBD_ENABLE = 0xae, CMD_READ_OUTPUT_PORT = 0xd0, CMD_WRITE_OUTPUT_PORT = 0xd1,
            CMD_WRITE_KBD_BUFFER = 0xd2, CMD_WRITE_AUX_BUFFER = 0xd3, CMD_WRITE_AUX = 0xd4;
    static final int SELF_TEST_OK = 0x55;
    static final int AUX_CLOCK_STUCK_HIGH = 0x02;
    /** What a byte sent to the missing keyboard or AUX device brings back (with the timeout bit): resend. */
    static final int NO_DEVICE = 0xfe;
    /** Output port bit 0: the CPU reset line, active low. */
    static final int OUTPUT_PORT_RESET = 0x01;
    static final String STATE_ID = "i8042";
    static final int STATE_VERSION = 1;
    private static final int FLAG_COMMAND = 1, FLAG_FULL = 2, FLAG_AUX = 4, FLAG_TIMEOUT = 8;

    private final IrqLine keyboardIrq;
    private final PowerControl power;

    private int ctr = CTR_KBDINT | CTR_SYS | CTR_AUXDIS | CTR_XLATE;
    private int outputPort = OUTPUT_PORT_RESET | 0x02; // reset line high (inactive), A20 on
    private int pendingCommand = -1;
    private boolean lastWriteWasCommand;
    private int outputByte;
    private boolean outputFull;
    private boolean outputFromAux;
    private boolean timeout;
    private boolean irqHigh;

    /**
     * @param keyboardIrq the keyboard interrupt line (ISA IRQ 1); the AUX line (IRQ 12) is never raised
     * @param power       asked to reset the machine when the guest pulses the reset line
     */
    public I8042Controller(IrqLine keyboardIrq, PowerControl power) {
        this.keyboardIrq = Objects.requireNonNull(keyboardIrq, "keyboardIrq");
        this.power = Objects.requireNonNull(power, "power");
    }

    @Override
    public String name() {
        return "i8042";
    }

    @Override
    protected synchronized int readByte(int offset) {
        return switch (offset) {
            case DATA -> readData();
            case COMMAND -> status();
            default -> 0xff;
        };
    }

    @Override
    protected synchronized void writeByte(int offset, int value) {
        switch (offset) {
            case DATA -> writeData(value);
            case COMMAND -> command(value);
            default -> {
            }
        }
        updateIrq();
    }

    @Override
    public String stateId() {
        return STATE_ID;
    }

    /**
     * Version 1, one byte each: the command byte, the output port, the command waiting for its data byte (0
     * for none), the output buffer's byte, and flags (bit 0 the last write was a command, 1 the output
     * buffer is full, 2 its byte is from the AUX side, 3 timeout).
     */
    @Override
    public synchronized DeviceState saveState() {
        int flags = (lastWriteWasCommand ? FLAG_COMMAND : 0) | (outputFull ? FLAG_FULL : 0) | (outputFromAux ? FLAG_AUX : 0)
                | (timeout ? FLAG_TIMEOUT : 0);
        return new StateWriter().u8(ctr).u8(outputPort).u8(pendingCommand < 0 ? 0 : pendingCommand).u8(outputByte).u8(flags)
                .done(STATE_ID, STATE_VERSION);
    }

    /** Takes the registers back and drives the keyboard interrupt from them. */
    @Override
    public synchronized void restoreState(DeviceState state) {
        StateReader r = new StateReader(state, STATE_ID, STATE_VERSION);
        int newCtr = r.u8("command byte");
        int newOutputPort = r.u8("output port");
        int pending = r.u8("pending command");
        r.check(pending == 0 || pending == CMD_WRITE_CTR || (pending >= CMD_WRITE_OUTPUT_PORT && pending <= CMD_WRITE_AUX),
                "pending command", String.format("0x%02x is not a command that waits for a data byte", pending));
        int newOutput = r.u8("output buffer");
        int flags = r.in("flags", 1, 0, FLAG_COMMAND | FLAG_FULL | FLAG_AUX | FLAG_TIMEOUT);
        r.end();
        ctr = newCtr;
        outputPort = newOutputPort;
        pendingCommand = pending == 0 ? -1 : pending;
        outputByte = newOutput;
        lastWriteWasCommand = (flags & FLAG_COMMAND) != 0;
        outputFull = (flags & FLAG_FULL) != 0;
        outputFromAux = (flags & FLAG_AUX) != 0;
        timeout = (flags & FLAG_TIMEOUT) != 0;
        updateIrq();
    }

    private int status() {
        int s = STR_UNLOCKED;
        if (outputFull) {
            s |= STR_OBF;
        }
        if ((ctr & CTR_SYS) != 0) {
            s |= STR_SYS;
        }
        if (lastWriteWasCommand) {
            s |= STR_CMD;
        }
        if (outputFull && outputFromAux) {
            s |= STR_AUXDATA;
        }
        if (timeout) {
            s |= STR_TIMEOUT;
        }
        return s;
    }

    private int readData() {
        int value = outputByte;
        outputFull = false;
        timeout = false;
        updateIrq();
        return value;
    }

    private void command(int cmd) {
        lastWriteWasCommand = true;
        pendingCommand = -1;
        switch (cmd) {
            case CMD_READ_CTR -> output(ctr, false);
            case CMD_WRITE_CTR, CMD_WRITE_OUTPUT_PORT, CMD_WRITE_KBD_BUFFER, CMD_WRITE_AUX_BUFFER, CMD_WRITE_AUX ->
                    pendingCommand = cmd;
            case CMD_AUX_DISABLE -> ctr |= CTR_AUXDIS;
            case CMD_AUX_ENABLE -> ctr &= ~CTR_AUXDIS;
            case CMD_AUX_TEST -> output(AUX_CLOCK_STUCK_HIGH, false);
            case CMD_SELF_TEST -> {
                ctr |= CTR_SYS;
                output(SELF_TEST_OK, false);
            }
            case CMD_KBD_TEST -> output(0x00, false);
            case CMD_KBD_DISABLE -> ctr |= CTR_KBDDIS;
            case CMD_KBD_ENABLE -> ctr &= ~CTR_KBDDIS;
            case CMD_READ_OUTPUT_PORT -> output(outputPort, false);
            default -> {
                if ((cmd & 0xf0) == 0xf0 && (cmd & OUTPUT_PORT_RESET) == 0) {
                    power.requestReset(); // 0xFE: pulse the reset line
                }
                // Other commands (versions, input port, multiplexer) have nothing to do here.
            }
        }
    }

    private void writeData(int value) {
        lastWriteWasCommand = false;
        int cmd = pendingCommand;
        pendingCommand = -1;
        switch (cmd) {
            case CMD_WRITE_CTR -> ctr = value;
            case CMD_WRITE_OUTPUT_PORT -> {
                outputPort = value;
                if ((value & OUTPUT_PORT_RESET) == 0) {
                    power.requestReset();
                }
            }
            case CMD_WRITE_KBD_BUFFER -> output(value, false);
            case CMD_WRITE_AUX_BUFFER -> output(value, false); // no AUX port: the byte comes back on the keyboard side
            case CMD_WRITE_AUX -> noDevice(true);
            default -> noDevice(false); // a byte for the keyboard, which is not there
        }
    }

    private void noDevice(boolean aux) {
        output(NO_DEVICE, aux);
        timeout = true;
    }

    private void output(int value, boolean fromAux) {
        outputByte = value & 0xff;
        outputFull = true;
        outputFromAux = fromAux;
        timeout = false;
    }

    private void updateIrq() {
        boolean high = outputFull && !outputFromAux && (ctr & CTR_KBDINT) != 0;
        if (high != irqHigh) {
            irqHigh = high;
            keyboardIrq.set(high);
        }
    }
}
