package dev.nimbus.mshv;

import dev.nimbus.host.EventFd;
import dev.nimbus.hypervisor.Arch;
import dev.nimbus.hypervisor.GsiRoute;
import dev.nimbus.hypervisor.HypervisorException;
import dev.nimbus.hypervisor.IoEventAddress;
import dev.nimbus.hypervisor.IrqChip;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.Vm;
import dev.nimbus.hypervisor.VmOptions;
import dev.nimbus.hypervisor.memory.MemoryRegion;
import dev.nimbus.hypervisor.x86.InstructionEmulator;
import dev.nimbus.mshv.abi.HvConstants;
import dev.nimbus.mshv.fd.MshvPartitionFd;
import dev.nimbus.mshv.vp.GuestRam;
import dev.nimbus.mshv.vp.InterceptHandler;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A partition as the SPI's VM (x86-64): memory regions mapped with {@code MSHV_SET_GUEST_MEMORY}, VPs, irqfd,
 * ioeventfd and MSI routes. CPUID is intercepted for the whole partition when it is made, so that the table
 * the platform sets ({@code X86Vcpu.setCpuid}) is what the guest sees.
 *
 * <p>The interrupt controller is the split kind ({@link MshvSplitIrqChip}): the hypervisor virtualises the local
 * APICs and has no IOAPIC, PIC or PIT, so the VMM's IOAPIC routes its pins to MSIs. Refused, naming why: the
 * in-kernel kind, routes to an irqchip pin, dirty logging, and an ioeventfd of any length (length 0).
 */
public final class MshvVm implements Vm, GuestRam {
    private final MshvPartitionFd partition;
    private final InstructionEmulator emulator;
    private final Arena arena = Arena.ofShared();
    private final Map<Integer, MemoryRegion> regions = new ConcurrentHashMap<>();
    private final List<MshvVcpu> vcpus = new ArrayList<>();
    private IrqChip irqChip;
    private boolean closed;

    MshvVm(MshvPartitionFd partition, VmOptions options) {
        this.partition = partition;
        this.emulator = options.emulator().orElse(null);
    }

    /** Initializes the partition and installs the CPUID intercept: what must happen before memory and VPs. */
    void initialize() {
        partition.initialize();
        partition.installIntercept(HvConstants.HV_INTERCEPT_ACCESS_MASK_EXECUTE, HvConstants.HV_INTERCEPT_TYPE_X64_CPUID, 0);
    }

    @Override
    public Arch arch() {
        return Arch.X86_64;
    }

    /** Installs slot {@code region.slot()} (unmapping what the slot held), writable unless read-only, executable. */
    @Override
    public synchronized void setMemoryRegion(MemoryRegion region) {
        if (region.logDirty()) {
            throw new HypervisorException("mshv: dirty logging is not built for this backend (slot " + region.slot() + ")");
        }
        removeMemoryRegion(region.slot());
        partition.mapGuestMemory(region.region().guestAddress(), region.region().size(), region.region().host().address(),
                !region.readOnly(), true);
        regions.put(region.slot(), region);
    }

    @Override
    public synchronized void removeMemoryRegion(int slot) {
        MemoryRegion old = regions.remove(slot);
        if (old != null) {
            partition.unmapGuestMemory(old.region().guestAddress(), old.region().size(), old.region().host().address());
        }
    }

    /** The VPs move {@code ins}/{@code outs} data through the regions installed here. */
    @Override
    public MemorySegment at(long gpa, long size) {
        for (MemoryRegion r : regions.values()) {
            if (r.region().contains(gpa, size)) {
                return r.region().host().asSlice(gpa - r.region().guestAddress(), size);
            }
        }
        return null;
    }

    @Override
    public BitSet dirtyLog(int slot) {
        throw new HypervisorException("mshv: dirty logging is not built for this backend");
    }

    /**
     * The split irqchip ({@link IrqChipConfig.X86Split}: the hypervisor's local APICs, the VMM's IOAPIC), once and
     * before the first VP; the in-kernel kind is refused naming why, and so are other architectures' chips.
     */
    @Override
    public synchronized IrqChip createIrqChip(IrqChipConfig config) {
        if (irqChip != null) {
            throw new IllegalStateException("this VM has an interrupt controller already");
        }
        if (!vcpus.isEmpty()) {
            throw new IllegalStateException("the interrupt controller must be created before the first vCPU");
        }
        irqChip = switch (config) {
            case IrqChipConfig.X86Split split -> new MshvSplitIrqChip(split, partition);
            case IrqChipConfig.X86Legacy legacy -> throw new HypervisorException("mshv: the hypervisor has no in-kernel IOAPIC, "
                    + "PIC or PIT (" + legacy + "): only the split irqchip, its local APICs with the VMM's IOAPIC (--platform irqchip=split)");
            case IrqChipConfig.GicV3 g -> throw new IllegalArgumentException("GicV3 is for aarch64, this VM is x86_64");
            case IrqChipConfig.Aia a -> throw new IllegalArgumentException("Aia is for riscv64, this VM is x86_64");
        };
        return irqChip;
    }

    @Override
    public synchronized Optional<IrqChip> irqChip() {
        return Optional.ofNullable(irqChip);
    }

    @Override
    public synchronized Vcpu createVcpu(int id) {
        if (closed) {
            throw new HypervisorException("mshv: the VM is closed");
        }
        var vp = partition.createVp(id);
        MshvVcpu vcpu = new MshvVcpu(vp, new InterceptHandler(vp, emulator, this), arena);
        vcpus.add(vcpu);
        return vcpu;
    }

    @Override
    public void registerIrqfd(EventFd fd, int gsi) {
        partition.assignIrqfd(fd.fd(), gsi, -1);
    }

    @Override
    public void unregisterIrqfd(EventFd fd, int gsi) {
        partition.deassignIrqfd(fd.fd(), gsi);
    }

    @Override
    public void registerIoeventfd(EventFd fd, IoEventAddress address, OptionalLong datamatch) {
        ioeventfd(fd, address, datamatch, false);
    }

    @Override
    public void unregisterIoeventfd(EventFd fd, IoEventAddress address, OptionalLong datamatch) {
        ioeventfd(fd, address, datamatch, true);
    }

    private void ioeventfd(EventFd fd, IoEventAddress a, OptionalLong datamatch, boolean deassign) {
        if (a.length() == 0) {
            throw new HypervisorException(String.format("mshv: an ioeventfd at 0x%x must name its length (1, 2, 4 or 8)", a.address()));
        }
        Long match = datamatch.isPresent() ? datamatch.getAsLong() : null;
        boolean pio = a.space() == IoEventAddress.Space.PIO;
        if (deassign) {
            partition.deassignIoeventfd(fd.fd(), a.address(), a.length(), pio, match);
        } else {
            partition.assignIoeventfd(fd.fd(), a.address(), a.length(), pio, match);
        }
    }

    /** Replaces the MSI routing table; MSHV routes GSIs to MSIs only (no in-kernel irqchip pins). */
    @Override
    public void setGsiRouting(List<GsiRoute> routes) {
        List<MshvPartitionFd.MsiRoute> msi = new ArrayList<>(routes.size());
        for (GsiRoute r : routes) {
            switch (r) {
                case GsiRoute.Msi m -> msi.add(new MshvPartitionFd.MsiRoute(m.gsi(), m.message().address(), m.message().data()));
                case GsiRoute.IrqchipPin p -> throw new HypervisorException(String.format(
                        "mshv: GSI %d routes to pin %d of irqchip %d, and this hypervisor has no in-kernel irqchip", p.gsi(), p.pin(), p.chip()));
            }
        }
        partition.setMsiRouting(msi);
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (MshvVcpu v : vcpus) {
            v.close();
        }
        partition.close();
        arena.close();
    }
}
