package dev.nimbus.devices.virtio;

import dev.nimbus.devices.bus.BusDevice;
import dev.nimbus.devices.log.RateLimitedLog;
import dev.nimbus.devices.pci.MsiRouting;
import dev.nimbus.devices.pci.MsixCapability;
import dev.nimbus.devices.pci.PciBar;
import dev.nimbus.devices.pci.PciConfigSpace;
import dev.nimbus.devices.pci.PciDevice;
import dev.nimbus.devices.state.DeviceState;
import dev.nimbus.devices.state.Snapshottable;
import dev.nimbus.devices.state.StateReader;
import dev.nimbus.devices.state.StateWriter;
import dev.nimbus.hypervisor.memory.GuestMemory;

import java.lang.System.Logger.Level;

import java.util.List;
import java.util.Map;

import static dev.nimbus.devices.virtio.VirtioFeatures.NO_VECTOR;
import static dev.nimbus.devices.virtio.VirtioFeatures.STATUS_DEVICE_NEEDS_RESET;
import static dev.nimbus.devices.virtio.VirtioFeatures.STATUS_DRIVER_OK;
import static dev.nimbus.devices.virtio.VirtioFeatures.STATUS_FEATURES_OK;

/**
 * The virtio PCI modern transport (virtio 1.2, 4.1) around one {@link VirtioDevice}: a non-transitional
 * function (vendor 0x1af4, device 0x1040 + type, revision 1) whose vendor capabilities point into one
 * 64-bit memory BAR (BAR 0), laid out as:
 *
 * <pre>
 *   0x0000  common configuration (4.1.4.3), 0x40 bytes
 *   0x1000  ISR status (4.1.4.5), 1 byte, cleared by reading
 *   0x2000  device-specific configuration (4.1.4.6)
 *   0x3000  notifications (4.1.4.4): queue n at 0x3000 + 4n (notify_off_multiplier 4)
 *   0x4000  MSI-X table, one vector per queue plus one for configuration changes
 *   0x6000  MSI-X pending-bit array
 * </pre>
 *
 * A VIRTIO_PCI_CAP_PCI_CFG capability (4.1.4.9) gives firmware-style access to the BAR through configuration
 * space.
 *
 * <p>Queue processing: {@link #processQueue(int)} serves queue n, whoever calls it: a test, the MMIO
 * notification write (when no ioeventfd catches it), or the device's worker thread when the queue's
 * ioeventfd fires. A guest that breaks a queue puts the device into DEVICE_NEEDS_RESET (logged once per
 * reset), which stops processing until the driver resets it; the rest of the machine is unaffected.
 *
 * <p>All register accesses and processing are serialized on this object.
 */
public final class VirtioPciDevice implements PciDevice, Snapshottable {
    private static final System.Logger LOG = System.getLogger(VirtioPciDevice.class.getName());

    public static final int VENDOR_ID = 0x1af4;
    public static final int DEVICE_ID_BASE = 0x1040;
    public static final int BAR = 0;
    public static final long BAR_SIZE = 0x8000;
    public static final int COMMON_OFFSET = 0x0000;
    public static final int COMMON_SIZE = 0x40;
    public static final int ISR_OFFSET = 0x1000;
    public static final int DEVICE_CONFIG_OFFSET = 0x2000;
    public static final int DEVICE_CONFIG_MAX = 0x1000;
    public static final int NOTIFY_OFFSET = 0x3000;
    public static final int NOTIFY_MULTIPLIER = 4;
    public static final int MSIX_TABLE_OFFSET = 0x4000;
    public static final int MSIX_PBA_OFFSET = 0x6000;

    /** virtio_pci_cap cfg_type values (4.1.4). */
    public static final int CAP_COMMON = 1;
    public static final int CAP_NOTIFY = 2;
    public static final int CAP_ISR = 3;
    public static final int CAP_DEVICE = 4;
    public static final int CAP_PCI_CFG = 5;

    static final String STATE_ID = "virtio-pci";
    static final int STATE_VERSION = 1;

    private final VirtioDevice device;
    private final PciConfigSpace config;
    private final MsixCapability msix;
    private final VirtQueue[] queues;
    private final List<VirtQueue> queueList;
    private final long offeredFeatures;

    private int deviceFeatureSelect;
    private int driverFeatureSelect;
    private long driverFeatures;
    private int status;
    private int configGeneration;
    private int configVector = NO_VECTOR;
    private int queueSelect;
    private int isr;
    private boolean needsResetLogged;
    private long failures;
    /** This function's guest-triggered warnings (breaks, failures): one line per interval. */
    private final RateLimitedLog guestLog = new RateLimitedLog(LOG);
    /** Serving a host descriptor failed: it is not watched until the device is reset. */
    private boolean hostFdBroken;
    /** Offset of the VIRTIO_PCI_CAP_PCI_CFG capability in configuration space. */
    private final int pciCfgCap;

    /**
     * @param routing   where the MSI-X vectors go (the VMM's irqfds)
     * @param deviceId  the requester ID to put into MSI messages where the interrupt controller needs it, else -1
     */
    public VirtioPciDevice(VirtioDevice device, GuestMemory memory, MsiRouting routing, int deviceId) {
        this.device = device;
        int n = device.queueCount();
        if (n < 1 || n > (MSIX_TABLE_OFFSET - NOTIFY_OFFSET) / NOTIFY_MULTIPLIER || n + 1 > (MSIX_PBA_OFFSET - MSIX_TABLE_OFFSET) / 16) {
            throw new IllegalArgumentException(device.name() + ": unsupported queue count " + n);
        }
        if (device.configSize() > DEVICE_CONFIG_MAX) {
            throw new IllegalArgumentException(device.name() + ": device configuration larger than 4 KiB");
        }
        this.queues = new VirtQueue[n];
        for (int i = 0; i < n; i++) {
            queues[i] = new VirtQueue(memory, device.queueMaxSize(i));
        }
        this.queueList = List.of(queues);
        this.offeredFeatures = device.deviceFeatures() | VirtioFeatures.bit(VirtioFeatures.VERSION_1)
                | VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC) | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX);
        this.config = new PciConfigSpace(VENDOR_ID, DEVICE_ID_BASE + device.deviceType(), device.pciClass(), 1,
                VENDOR_ID, 0x40 + device.deviceType());
        addVirtioCapability(CAP_COMMON, COMMON_OFFSET, COMMON_SIZE, -1);
        addVirtioCapability(CAP_NOTIFY, NOTIFY_OFFSET, n * NOTIFY_MULTIPLIER, NOTIFY_MULTIPLIER);
        addVirtioCapability(CAP_ISR, ISR_OFFSET, 1, -1);
        if (device.configSize() > 0) {
            addVirtioCapability(CAP_DEVICE, DEVICE_CONFIG_OFFSET, device.configSize(), -1);
        }
        this.pciCfgCap = addVirtioCapability(CAP_PCI_CFG, 0, 0, 0); // 20 bytes: the cap, then pci_cfg_data
        // bar, offset and length of the access window are the driver's to set (4.1.4.9)
        config.setWritable(pciCfgCap + 4, 1, 0xff);
        config.setWritable(pciCfgCap + 8, 8, -1L);
        config.setWritable(pciCfgCap + 16, 4, 0xffff_ffffL);
        this.msix = new MsixCapability(config, n + 1, BAR, MSIX_TABLE_OFFSET, MSIX_PBA_OFFSET, routing, deviceId);
        device.connect(this::complete);
    }

    /**
     * {@link Completions#complete}: a device that finished requests on a thread of its own gives them back
     * here, under this object's lock like every other queue access; one interrupt decision for the batch.
     */
    private synchronized void complete(int index, Completions.Publisher publisher) {
        VirtQueue q = queues[index];
        boolean live = (status & STATUS_DRIVER_OK) != 0 && (status & STATUS_DEVICE_NEEDS_RESET) == 0 && q.active();
        try {
            publisher.publish(q, live);
            if (live && q.needsInterrupt()) {
                isr |= 1;
                signal(q.msixVector());
            }
        } catch (VirtQueueException e) {
            needsReset("queue " + index + ": " + e.getMessage());
        } catch (RuntimeException e) {
            failed(e);
        }
    }

    private int addVirtioCapability(int type, int offset, int length, int multiplier) {
        byte[] cap = new byte[multiplier >= 0 ? 20 : 16];
        cap[0] = 0x09; // vendor-specific
        cap[2] = (byte) cap.length;
        cap[3] = (byte) type;
        cap[4] = BAR;
        putLe32(cap, 8, offset);
        putLe32(cap, 12, length);
        if (multiplier >= 0) {
            putLe32(cap, 16, multiplier);
        }
        return config.addCapability(cap);
    }

    private static void putLe32(byte[] b, int at, int v) {
        for (int i = 0; i < 4; i++) {
            b[at + i] = (byte) (v >>> (8 * i));
        }
    }

    @Override
    public PciConfigSpace config() {
        return config;
    }

    @Override
    public List<PciBar> bars() {
        return List.of(new PciBar(BAR, BAR_SIZE, true, false, new Registers()));
    }

    @Override
    public void configWritten(int offset, int size) {
        msix.configWritten(offset, size);
        if (offset >= pciCfgCap + 16 && offset < pciCfgCap + 20) {
            int length = pciCfgWindowLength();
            if (length > 0) {
                new Registers().write(config.get32(pciCfgCap + 8) & 0xffff_ffffL, length,
                        config.get32(pciCfgCap + 16) & 0xffff_ffffL);
            }
        }
    }

    /**
     * Reads of the VIRTIO_PCI_CAP_PCI_CFG data field (4.1.4.9) read BAR 0 at the offset the driver set;
     * everything else is plain configuration space.
     */
    @Override
    public long readConfig(int offset, int size) {
        if (offset >= pciCfgCap + 16 && offset < pciCfgCap + 20) {
            int length = pciCfgWindowLength();
            if (length > 0) {
                config.set32(pciCfgCap + 16, (int) new Registers().read(config.get32(pciCfgCap + 8) & 0xffff_ffffL, length));
            }
        }
        return config.read(offset, size);
    }

    /** The window's access size if the driver set a valid one (BAR 0, 1/2/4 bytes, aligned, inside the BAR), else 0. */
    private int pciCfgWindowLength() {
        int bar = config.get8(pciCfgCap + 4);
        long offset = config.get32(pciCfgCap + 8) & 0xffff_ffffL;
        int length = config.get32(pciCfgCap + 12);
        boolean valid = bar == BAR && (length == 1 || length == 2 || length == 4) && offset % length == 0
                && offset + length <= BAR_SIZE;
        return valid ? length : 0;
    }

    @Override
    public String name() {
        return "virtio-pci " + device.name();
    }

    @Override
    public void configRestored() {
        msix.configRestored();
    }

    @Override
    public String stateId() {
        return STATE_ID;
    }

    /**
     * Version 1: the device type (u8) and queue count (u16); device and driver feature selects (u32 each),
     * the negotiated features (u64), device status (u8), configuration generation (u32), the configuration
     * vector and queue select (u16 each), ISR (u8); each queue ({@link VirtQueue#save}); the MSI-X table and
     * PBA ({@link MsixCapability#saveState}, nested); the device's own state ({@link VirtioDevice#saveState},
     * nested). Configuration space (BAR address, command, MSI-X enable) is the PCI root's
     * ({@code PciRoot.saveState}). Saved while the machine is paused: the worker parked and every request
     * given back, so the used rings are up to date.
     */
    @Override
    public synchronized DeviceState saveState() {
        StateWriter w = new StateWriter().u8(device.deviceType()).u16(queues.length).u32(deviceFeatureSelect).u32(driverFeatureSelect)
                .u64(driverFeatures).u8(status).u32(configGeneration).u16(configVector).u16(queueSelect).u8(isr);
        for (VirtQueue q : queues) {
            q.save(w);
        }
        return w.state(msix.saveState()).state(device.saveState()).done(STATE_ID, STATE_VERSION);
    }

    /**
     * Puts a saved function back into this fresh one, before the guest runs and before its worker starts. A
     * device the driver had set going (DRIVER_OK) is activated as when the driver sets DRIVER_OK, without the
     * driver negotiating again: its queues resume at their saved indices ({@link VirtQueue#resume}), the
     * device hears {@link VirtioDevice#activate} with the negotiated features and then
     * {@link VirtioDevice#restored}; the worker, once started, serves it. MSI-X vectors that can fire are
     * routed at once ({@link MsixCapability#restoreState}). Refused, changing nothing, when the state is of
     * another device type or queue count, or a field is out of range.
     */
    @Override
    public synchronized void restoreState(DeviceState state) {
        StateReader r = new StateReader(state, STATE_ID, STATE_VERSION);
        r.in("device type", 1, device.deviceType(), device.deviceType());
        r.in("queue count", 2, queues.length, queues.length);
        int newDeviceSelect = r.u32("device feature select");
        int newDriverSelect = r.u32("driver feature select");
        long newFeatures = r.u64("driver features");
        int newStatus = r.u8("device status");
        r.check((newStatus & STATUS_FEATURES_OK) == 0 || featuresAcceptable(newFeatures), "driver features",
                String.format("0x%x were accepted (FEATURES_OK) but are not acceptable (offered 0x%x)", newFeatures, offeredFeatures));
        r.check((newStatus & STATUS_DRIVER_OK) == 0 || (newStatus & STATUS_FEATURES_OK) != 0, "device status",
                String.format("0x%x has DRIVER_OK without FEATURES_OK", newStatus));
        int newGeneration = r.u32("configuration generation");
        int newConfigVector = r.u16("configuration vector");
        r.check(newConfigVector == NO_VECTOR || newConfigVector < msix.vectorCount(), "configuration vector",
                newConfigVector + " is past the " + msix.vectorCount() + " MSI-X vectors");
        int newQueueSelect = r.u16("queue select");
        int newIsr = r.in("ISR", 1, 0, 3);
        VirtQueue.Saved[] saved = new VirtQueue.Saved[queues.length];
        for (int i = 0; i < queues.length; i++) {
            saved[i] = VirtQueue.read(r, i, queues[i].maxSize());
            r.check(saved[i].msixVector() == NO_VECTOR || saved[i].msixVector() < msix.vectorCount(), "queue " + i + " vector",
                    saved[i].msixVector() + " is past the " + msix.vectorCount() + " MSI-X vectors");
            r.check(!saved[i].active() || (newStatus & STATUS_DRIVER_OK) != 0, "queue " + i, "is active before DRIVER_OK");
        }
        DeviceState msixState = r.state("MSI-X");
        DeviceState deviceState = r.state("device state");
        MsixCapability.Saved vectors = msix.read(msixState);
        r.end();
        device.restoreState(deviceState); // the last check: the device changes only once all is well
        msix.restore(vectors);
        deviceFeatureSelect = newDeviceSelect;
        driverFeatureSelect = newDriverSelect;
        driverFeatures = newFeatures;
        status = newStatus;
        configGeneration = newGeneration;
        configVector = newConfigVector;
        queueSelect = newQueueSelect;
        isr = newIsr;
        for (int i = 0; i < queues.length; i++) {
            queues[i].restore(saved[i]);
        }
        if ((status & STATUS_DRIVER_OK) != 0) {
            resumeRestored(saved);
        }
    }

    /** DRIVER_OK's activation, for a restored device: the queues at their saved indices. */
    private void resumeRestored(VirtQueue.Saved[] saved) {
        boolean eventIdx = (driverFeatures & VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX)) != 0;
        boolean indirect = (driverFeatures & VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC)) != 0;
        try {
            for (int i = 0; i < queues.length; i++) {
                if (saved[i].active()) {
                    try {
                        queues[i].resume(eventIdx, indirect);
                    } catch (VirtQueueException e) {
                        throw new VirtQueueException("queue " + i + ": " + e.getMessage());
                    }
                }
            }
            device.activate(driverFeatures);
            device.restored(queueList);
        } catch (VirtQueueException e) {
            needsReset(e.getMessage());
        }
    }

    public VirtioDevice device() {
        return device;
    }

    public MsixCapability msix() {
        return msix;
    }

    public int queueCount() {
        return queues.length;
    }

    /** Queue {@code index}, for tests and diagnostics. */
    public VirtQueue queue(int index) {
        return queues[index];
    }

    /**
     * Offset of queue {@code index}'s notification register in BAR 0: the VMM registers an ioeventfd
     * ({@code IoEventAddress.mmio(barBase + notifyOffset(index), 0)}, or length 2 where "any length" is not
     * supported: Linux writes the 16-bit queue index) and calls {@link #processQueue} when it fires.
     */
    public static long notifyOffset(int index) {
        return NOTIFY_OFFSET + (long) NOTIFY_MULTIPLIER * index;
    }

    public synchronized int status() {
        return status;
    }

    public synchronized long driverFeatures() {
        return driverFeatures;
    }

    /**
     * Serves queue {@code index}: what the driver made available is processed, and the queue's vector is
     * signalled if the driver wants it. Does nothing until DRIVER_OK, or after DEVICE_NEEDS_RESET.
     */
    /**
     * Serves what the device kept back in the last {@link #processQueue} on this, the worker's, thread
     * ({@link VirtioDevice#serveKeptBackOn}); not under this transport's lock, since it does the request's I/O.
     */
    public void serveKeptBack() {
        try {
            device.serveKeptBack();
        } catch (RuntimeException e) {
            failed(e);
        }
    }

    public synchronized void processQueue(int index) {
        if (index < 0 || index >= queues.length || (status & STATUS_DRIVER_OK) == 0 || (status & STATUS_DEVICE_NEEDS_RESET) != 0) {
            return;
        }
        VirtQueue q = queues[index];
        if (!q.active()) {
            return;
        }
        try {
            device.process(index, q);
            if (q.needsInterrupt()) {
                isr |= 1;
                signal(q.msixVector());
            }
        } catch (VirtQueueException e) {
            needsReset("queue " + index + ": " + e.getMessage());
        } catch (RuntimeException e) {
            failed(e);
        }
    }

    /**
     * Serves host descriptor {@code index} of the device ({@link VirtioDevice#hostFds()}) when it is
     * readable: while the device is live, {@link VirtioDevice#hostFdReady} with the queues, then each
     * queue's vector is signalled if the driver wants it (the same decision as {@link #processQueue});
     * otherwise {@link VirtioDevice#hostFdIdle}.
     */
    public synchronized void serveHostFd(int index) {
        try {
            if ((status & STATUS_DRIVER_OK) == 0 || (status & STATUS_DEVICE_NEEDS_RESET) != 0) {
                device.hostFdIdle(index);
                return;
            }
            device.hostFdReady(index, queueList);
            for (VirtQueue q : queues) {
                if (q.needsInterrupt()) {
                    isr |= 1;
                    signal(q.msixVector());
                }
            }
        } catch (VirtQueueException e) {
            needsReset("host descriptor " + index + ": " + e.getMessage());
        } catch (RuntimeException e) {
            hostFdBroken = true;
            failed(e);
        }
    }

    /**
     * Whether the worker should wait on host descriptor {@code index} now ({@link VirtioDevice#hostFdWanted});
     * never again, until a reset, once serving it failed, so a broken descriptor cannot keep the worker failing.
     */
    public synchronized boolean hostFdWanted(int index) {
        return !hostFdBroken && device.hostFdWanted(index);
    }

    /** The device changed its configuration: a new generation, and a configuration interrupt (4.1.4.5). */
    public synchronized void configChanged() {
        configGeneration++;
        isr |= 2;
        signal(configVector);
    }

    /**
     * The device's code failed unexpectedly (a bug, or a host resource that broke) while serving it on the
     * worker thread: the device goes into DEVICE_NEEDS_RESET with a configuration-change interrupt, as a
     * broken queue does (the driver resets it and carries on), the failure is logged with its stack trace
     * and counted ({@code device_failures} in {@link #counters()}). The worker goes on serving.
     */
    public synchronized void failed(RuntimeException e) {
        failures++;
        if (!needsResetLogged) {
            needsResetLogged = true;
            guestLog.log(Level.ERROR, "needs-reset", device.name() + ": the device failed; it needs a reset", e);
        }
        needsReset("the device failed: " + e);
    }

    /** The device's own counters, and {@code device_failures}: how often it failed and was put into DEVICE_NEEDS_RESET. */
    public synchronized Map<String, Long> counters() {
        Map<String, Long> c = new java.util.LinkedHashMap<>(device.counters());
        c.put("device_failures", failures);
        return c;
    }

    private void needsReset(String why) {
        if (!needsResetLogged) {
            // once per break; a guest that breaks and resets the device in a loop gets one line per interval
            needsResetLogged = true;
            guestLog.log(Level.WARNING, "needs-reset", "{0}: the guest broke the device ({1}); it needs a reset", device.name(), why);
        }
        status |= STATUS_DEVICE_NEEDS_RESET;
        isr |= 2;
        signal(configVector);
    }

    private void signal(int vector) {
        if (vector != NO_VECTOR && vector < msix.vectorCount()) {
            msix.signal(vector);
        }
    }

    private void reset() {
        deviceFeatureSelect = driverFeatureSelect = 0;
        driverFeatures = 0;
        status = 0;
        configVector = NO_VECTOR;
        queueSelect = 0;
        isr = 0;
        needsResetLogged = false;
        hostFdBroken = false;
        for (VirtQueue q : queues) {
            q.reset();
        }
        device.reset();
    }

    private void writeStatus(int value) {
        if (value == 0) {
            reset();
            return;
        }
        int added = value & ~status;
        int next = (value & 0xff & ~STATUS_DEVICE_NEEDS_RESET) | (status & STATUS_DEVICE_NEEDS_RESET);
        if ((added & STATUS_FEATURES_OK) != 0 && !featuresAcceptable()) {
            next &= ~STATUS_FEATURES_OK; // the driver reads it back and gives up (3.1.1 step 6)
        }
        if ((added & STATUS_DRIVER_OK) != 0) {
            if ((next & STATUS_FEATURES_OK) == 0) {
                next &= ~STATUS_DRIVER_OK;
            } else {
                status = next;
                activate();
                return;
            }
        }
        status = next;
    }

    private boolean featuresAcceptable() {
        return featuresAcceptable(driverFeatures);
    }

    private boolean featuresAcceptable(long features) {
        return (features & ~offeredFeatures) == 0 && (features & VirtioFeatures.bit(VirtioFeatures.VERSION_1)) != 0;
    }

    private void activate() {
        boolean eventIdx = (driverFeatures & VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX)) != 0;
        boolean indirect = (driverFeatures & VirtioFeatures.bit(VirtioFeatures.RING_INDIRECT_DESC)) != 0;
        try {
            for (int i = 0; i < queues.length; i++) {
                if (queues[i].ready()) {
                    try {
                        queues[i].activate(eventIdx, indirect);
                    } catch (VirtQueueException e) {
                        throw new VirtQueueException("queue " + i + ": " + e.getMessage());
                    }
                }
            }
            device.activate(driverFeatures);
        } catch (VirtQueueException e) {
            needsReset(e.getMessage());
        }
    }

    // ---- common configuration (4.1.4.3) ----

    private VirtQueue selected() {
        return queueSelect < queues.length ? queues[queueSelect] : null;
    }

    /** The value of the common-configuration field starting at {@code field}. */
    private long commonField(int field) {
        VirtQueue q = selected();
        return switch (field) {
            case 0x00 -> deviceFeatureSelect;
            case 0x04 -> deviceFeatureSelect < 2 ? (offeredFeatures >>> (32 * deviceFeatureSelect)) & 0xffff_ffffL : 0;
            case 0x08 -> driverFeatureSelect;
            case 0x0c -> driverFeatureSelect < 2 ? (driverFeatures >>> (32 * driverFeatureSelect)) & 0xffff_ffffL : 0;
            case 0x10 -> configVector;
            case 0x12 -> queues.length;
            case 0x14 -> status;
            case 0x15 -> configGeneration & 0xff;
            case 0x16 -> queueSelect;
            case 0x18 -> q == null ? 0 : q.size();
            case 0x1a -> q == null ? NO_VECTOR : q.msixVector();
            case 0x1c -> q != null && q.ready() ? 1 : 0;
            case 0x1e -> q == null ? 0 : queueSelect;
            case 0x20 -> q == null ? 0 : q.descTable();
            case 0x28 -> q == null ? 0 : q.availRing();
            case 0x30 -> q == null ? 0 : q.usedRing();
            case 0x38 -> q == null ? 0 : queueSelect; // queue_notify_data: what the driver would write
            default -> 0;
        };
    }

    /** Start and width of the field holding {@code offset}, or null past the structure. */
    private static int[] fieldAt(int offset) {
        int[][] fields = {{0x00, 4}, {0x04, 4}, {0x08, 4}, {0x0c, 4}, {0x10, 2}, {0x12, 2}, {0x14, 1}, {0x15, 1},
                {0x16, 2}, {0x18, 2}, {0x1a, 2}, {0x1c, 2}, {0x1e, 2}, {0x20, 8}, {0x28, 8}, {0x30, 8}, {0x38, 2}, {0x3a, 2}};
        for (int[] f : fields) {
            if (offset >= f[0] && offset < f[0] + f[1]) {
                return f;
            }
        }
        return null;
    }

    private long readCommon(int offset, int size) {
        long v = 0;
        for (int i = 0; i < size; i++) {
            int[] f = fieldAt(offset + i);
            if (f != null) {
                long b = (commonField(f[0]) >>> (8 * (offset + i - f[0]))) & 0xff;
                v |= b << (8 * i);
            }
        }
        return v;
    }

    private void writeCommon(int offset, int size, long value) {
        VirtQueue q = selected();
        boolean queueWritable = q != null && !q.ready() && (status & STATUS_DRIVER_OK) == 0;
        switch (offset) {
            case 0x00 -> deviceFeatureSelect = (int) value;
            case 0x08 -> driverFeatureSelect = (int) value;
            case 0x0c -> {
                if ((status & STATUS_FEATURES_OK) == 0 && driverFeatureSelect < 2) {
                    int shift = 32 * driverFeatureSelect;
                    driverFeatures = (driverFeatures & ~(0xffff_ffffL << shift)) | ((value & 0xffff_ffffL) << shift);
                }
            }
            case 0x10 -> configVector = vectorOrNone(value);
            case 0x14 -> writeStatus((int) value & 0xff);
            case 0x16 -> queueSelect = (int) value & 0xffff;
            case 0x18 -> {
                if (queueWritable) {
                    q.setSize((int) value & 0xffff);
                }
            }
            case 0x1a -> {
                if (q != null) {
                    q.setMsixVector(vectorOrNone(value));
                }
            }
            case 0x1c -> {
                if (queueWritable && (value & 1) != 0) {
                    q.setReady(true);
                }
            }
            case 0x20, 0x24, 0x28, 0x2c, 0x30, 0x34 -> {
                if (queueWritable) {
                    writeQueueAddress(q, offset, size, value);
                }
            }
            default -> LOG.log(Level.DEBUG, "{0}: write to read-only common configuration at 0x{1}",
                    device.name(), Integer.toHexString(offset));
        }
    }

    private int vectorOrNone(long value) {
        int v = (int) value & 0xffff;
        return v < msix.vectorCount() ? v : NO_VECTOR;
    }

    private static void writeQueueAddress(VirtQueue q, int offset, int size, long value) {
        int field = offset & ~7;
        boolean high = (offset & 4) != 0;
        long old = switch (field) {
            case 0x20 -> q.descTable();
            case 0x28 -> q.availRing();
            default -> q.usedRing();
        };
        long updated;
        if (size == 8) {
            updated = value;
        } else if (high) {
            updated = (old & 0xffff_ffffL) | (value << 32);
        } else {
            updated = (old & ~0xffff_ffffL) | (value & 0xffff_ffffL);
        }
        switch (field) {
            case 0x20 -> q.setDescTable(updated);
            case 0x28 -> q.setAvailRing(updated);
            default -> q.setUsedRing(updated);
        }
    }

    /** BAR 0: the structures the capabilities point at. */
    private final class Registers implements BusDevice {
        @Override
        public long read(long offset, int size) {
            int off = (int) offset;
            synchronized (VirtioPciDevice.this) {
                if (off < COMMON_OFFSET + COMMON_SIZE) {
                    return readCommon(off, size);
                }
                if (off == ISR_OFFSET) {
                    int v = isr;
                    isr = 0;
                    return v;
                }
                if (off >= DEVICE_CONFIG_OFFSET && off + size <= DEVICE_CONFIG_OFFSET + device.configSize()) {
                    return device.readConfig(off - DEVICE_CONFIG_OFFSET, size);
                }
            }
            if (off >= MSIX_TABLE_OFFSET && off < MSIX_TABLE_OFFSET + msix.tableSize()) {
                return msix.readTable(off - MSIX_TABLE_OFFSET, size);
            }
            if (off >= MSIX_PBA_OFFSET && off < MSIX_PBA_OFFSET + msix.pbaSize()) {
                return msix.readPba(off - MSIX_PBA_OFFSET, size);
            }
            return 0;
        }

        @Override
        public void write(long offset, int size, long value) {
            int off = (int) offset;
            if (off >= NOTIFY_OFFSET && off < NOTIFY_OFFSET + NOTIFY_MULTIPLIER * queues.length) {
                // Reached only when no ioeventfd caught the write: serve the queue on this vCPU thread.
                processQueue((off - NOTIFY_OFFSET) / NOTIFY_MULTIPLIER);
                return;
            }
            if (off >= MSIX_TABLE_OFFSET && off < MSIX_TABLE_OFFSET + msix.tableSize()) {
                msix.writeTable(off - MSIX_TABLE_OFFSET, size, value);
                return;
            }
            synchronized (VirtioPciDevice.this) {
                if (off < COMMON_OFFSET + COMMON_SIZE) {
                    writeCommon(off, size, value);
                } else if (off >= DEVICE_CONFIG_OFFSET && off + size <= DEVICE_CONFIG_OFFSET + device.configSize()) {
                    device.writeConfig(off - DEVICE_CONFIG_OFFSET, size, value);
                }
            }
        }

        @Override
        public String name() {
            return VirtioPciDevice.this.name();
        }
    }
}
