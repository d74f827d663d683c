package dev.nimbus.kvm.irq;

import dev.nimbus.hypervisor.GsiRoute;
import dev.nimbus.hypervisor.HypervisorException;
import dev.nimbus.hypervisor.IrqChip;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.MsiMessage;
import dev.nimbus.kvm.fd.KvmDeviceFd;
import dev.nimbus.kvm.fd.KvmVmFd;

import dev.nimbus.hypervisor.state.StateException;
import dev.nimbus.hypervisor.state.StateRecord;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

import static dev.nimbus.kvm.abi.KvmConstants.*;

/**
 * AArch64: KVM's vGICv3 ({@code KVM_DEV_TYPE_ARM_VGIC_V3}) with its distributor and redistributor
 * addresses and SPI count, plus an ITS ({@code KVM_DEV_TYPE_ARM_VGIC_ITS}) when the config has an ITS base.
 * GSI n is SPI n (interrupt id 32 + n), as KVM's default routing has it.
 *
 * <p>Order: both devices are created and given their addresses here, before any vCPU; {@link #finishSetup}
 * initializes the GIC once every vCPU exists, then the ITS. An ITS the host's KVM does not offer (probed with
 * {@code KVM_CREATE_DEVICE_TEST} first) is an error naming it, rather than a machine whose firmware tables
 * describe an ITS that is not there.
 *
 * <p>Snapshot: {@link #saveState} writes the redistributors' LPI pending bits
 * ({@code KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES}) and the ITS's tables into guest memory, then returns the
 * registers as records ({@link GicV3State} has the lists, the formats and the orders); {@link #restoreState}
 * checks them against this controller (interrupt count, the vCPUs' affinities) and writes them, the GIC
 * before the ITS. The vCPUs are named by the MPIDR KVM gives each at reset, which Nimbus keeps.
 */
public final class GicV3IrqChip implements IrqChip, AutoCloseable {
    private static final int PRIVATE_IRQS = 32;
    private final IrqChipConfig.GicV3 config;
    private final KvmVmFd vm;
    private final KvmDeviceFd gic;
    private final KvmDeviceFd its;
    private final Supplier<int[]> vcpuIds;
    private boolean initialized;

    private GicV3IrqChip(IrqChipConfig.GicV3 config, KvmVmFd vm, KvmDeviceFd gic, KvmDeviceFd its,
            Supplier<int[]> vcpuIds) {
        this.config = config;
        this.vm = vm;
        this.gic = gic;
        this.its = its;
        this.vcpuIds = vcpuIds;
    }

    public static GicV3IrqChip create(IrqChipConfig.GicV3 config, KvmVmFd vm) {
        return create(config, vm, () -> new int[0]);
    }

    /** {@code vcpuIds}: the VM's vCPUs in the order they were made, whose redistributors a snapshot holds. */
    public static GicV3IrqChip create(IrqChipConfig.GicV3 config, KvmVmFd vm, Supplier<int[]> vcpuIds) {
        if (config.spis() <= 0 || config.spis() % 32 != 0 || config.spis() > 988) {
            throw new IllegalArgumentException("GICv3 SPI count must be a positive multiple of 32 up to 960: " + config.spis());
        }
        if (config.itsBase().isPresent() && config.itsBase().getAsLong() % ITS_ALIGNMENT != 0) {
            throw new IllegalArgumentException("the GICv3 ITS frame must be 64 KiB-aligned, not 0x"
                    + Long.toHexString(config.itsBase().getAsLong()));
        }
        if (config.itsBase().isPresent() && !vm.canCreateDevice(KVM_DEV_TYPE_ARM_VGIC_ITS)) {
            throw new HypervisorException("this host's KVM offers no GICv3 ITS (KVM_CREATE_DEVICE test of "
                    + "KVM_DEV_TYPE_ARM_VGIC_ITS: ENODEV); the AArch64 machine needs it to deliver its PCI devices' MSIs");
        }
        KvmDeviceFd gic = vm.createDevice(KVM_DEV_TYPE_ARM_VGIC_V3);
        KvmDeviceFd its = null;
        try {
            gic.setAttr(KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST, config.distributorBase());
            gic.setAttr(KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_REDIST, config.redistributorBase());
            gic.setAttr32(KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, config.spis() + PRIVATE_IRQS);
            if (config.itsBase().isPresent()) {
                its = vm.createDevice(KVM_DEV_TYPE_ARM_VGIC_ITS);
                its.setAttr(KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_ITS_ADDR_TYPE, config.itsBase().getAsLong());
            }
            return new GicV3IrqChip(config, vm, gic, its, vcpuIds);
        } catch (RuntimeException e) {
            if (its != null) {
                its.close();
            }
            gic.close();
            throw e;
        }
    }

    /** The ITS control frame's alignment (arm-vgic-its.rst: 64 KiB; the frame covers 128 KiB). */
    private static final long ITS_ALIGNMENT = 64 * 1024;

    @Override
    public IrqChipConfig config() {
        return config;
    }

    /** {@code KVM_DEV_ARM_VGIC_CTRL_INIT} of the GIC, after every vCPU exists, then of the ITS. */
    @Override
    public synchronized void finishSetup() {
        if (!initialized) {
            gic.setAttr(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT);
            if (its != null) {
                its.setAttr(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT);
            }
            initialized = true;
        }
    }

    @Override
    public void setIrqLine(int gsi, boolean high) {
        if (gsi < 0 || gsi >= config.spis()) {
            throw new IllegalArgumentException("GICv3 has SPIs 0-" + (config.spis() - 1) + ", not " + gsi);
        }
        vm.irqLine((KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT) | (PRIVATE_IRQS + gsi), high);
    }

    @Override
    public void signalMsi(MsiMessage message) {
        vm.signalMsi(message);
    }

    /**
     * KVM's default table, which the GIC's initialization installs: GSI n to pin n of irqchip 0 (SPI n),
     * for each SPI.
     */
    @Override
    public List<GsiRoute> lineRoutes() {
        return lineRoutes(config);
    }

    static List<GsiRoute> lineRoutes(IrqChipConfig.GicV3 config) {
        List<GsiRoute> routes = new ArrayList<>(config.spis());
        for (int spi = 0; spi < config.spis(); spi++) {
            routes.add(new GsiRoute.IrqchipPin(spi, 0, spi));
        }
        return List.copyOf(routes);
    }

    /** With an ITS, KVM translates an MSI by its device id (the PCI requester ID, as the FDT's msi-map says). */
    @Override
    public boolean msiNeedsDeviceId() {
        return its != null;
    }

    private long[] mpidrAttrs() {
        int[] ids = vcpuIds.get();
        long[] attrs = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            attrs[i] = GicV3State.mpidrAttr(GicV3State.kvmMpidr(ids[i]));
        }
        return attrs;
    }

    /**
     * Records {@value GicV3State#GIC_RECORD} and, with an ITS, {@value GicV3State#ITS_RECORD}; the LPI pending
     * tables and the ITS tables are written into guest memory first.
     */
    @Override
    public synchronized List<StateRecord> saveState() {
        if (!initialized) {
            throw new IllegalStateException("the GICv3 is saved after finishSetup");
        }
        gic.setAttr(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES);
        List<StateRecord> records = new ArrayList<>(2);
        StateRecord itsRecord = its != null ? GicV3State.saveIts(its) : null;
        records.add(GicV3State.save(gic, mpidrAttrs()));
        if (itsRecord != null) {
            records.add(itsRecord);
        }
        return List.copyOf(records);
    }

    @Override
    public synchronized void restoreState(List<StateRecord> records) {
        if (!initialized) {
            throw new IllegalStateException("the GICv3 is restored after finishSetup");
        }
        StateRecord gicRecord = StateRecord.find(records, GicV3State.GIC_RECORD, GicV3State.VERSION);
        boolean savedIts = records.stream().anyMatch(r -> r.id().equals(GicV3State.ITS_RECORD));
        if (savedIts != (its != null)) {
            throw new StateException(GicV3State.ITS_RECORD + ": " + (savedIts ? "saved from a GIC with an ITS, this one has none"
                    : "missing, but this GIC has an ITS"));
        }
        StateRecord itsRecord = its != null ? StateRecord.find(records, GicV3State.ITS_RECORD, GicV3State.VERSION) : null;
        GicV3State.restore(gic, mpidrAttrs(), gicRecord);
        if (itsRecord != null) {
            GicV3State.restoreIts(its, itsRecord);
        }
    }

    @Override
    public void close() {
        if (its != null) {
            its.close();
        }
        gic.close();
    }
}
