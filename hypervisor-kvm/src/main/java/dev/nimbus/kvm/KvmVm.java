package dev.nimbus.kvm;

import dev.nimbus.hypervisor.Arch;
import dev.nimbus.hypervisor.GsiRoute;
import dev.nimbus.hypervisor.IoEventAddress;
import dev.nimbus.hypervisor.IrqChip;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.VcpuExit;
import dev.nimbus.hypervisor.Vm;
import dev.nimbus.hypervisor.memory.MemoryRegion;
import dev.nimbus.host.EventFd;
import dev.nimbus.host.LibC;
import dev.nimbus.hypervisor.x86.CpuidEntry;
import dev.nimbus.kvm.abi.KvmConstants;
import dev.nimbus.kvm.fd.KvmSystemFd;
import dev.nimbus.kvm.fd.KvmVcpuFd;
import dev.nimbus.kvm.fd.KvmVmFd;
import dev.nimbus.kvm.irq.AiaIrqChip;
import dev.nimbus.kvm.irq.GicV3IrqChip;
import dev.nimbus.kvm.irq.X86LegacyIrqChip;
import dev.nimbus.kvm.irq.X86SplitIrqChip;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A KVM virtual machine: owns the system fd it came from, the VM fd, its vCPUs and in-kernel devices,
 * and closes them all. {@link KvmX86Vm} adds the x86-64 clock.
 */
public sealed class KvmVm implements Vm permits KvmX86Vm {
    private final Arch arch;
    private final KvmSystemFd system;
    final KvmVmFd vm;
    private final int maxVcpus;
    private final Map<Integer, MemoryRegion> slots = new ConcurrentHashMap<>();
    private final List<KvmVcpu> vcpus = new ArrayList<>();
    private volatile IrqChip irqChip;
    private volatile List<CpuidEntry> supportedCpuid;
    private boolean closed;
    private volatile String internalErrorNote = "";

    KvmVm(Arch arch, KvmSystemFd system, KvmVmFd vm, int maxVcpus) {
        this.arch = arch;
        this.system = system;
        this.vm = vm;
        this.maxVcpus = maxVcpus;
    }

    /**
     * A line every {@link VcpuExit.InternalError} of this VM's vCPUs carries after its detail: what the host
     * is known to do wrong (an emulating /dev/kvm). Set before vCPUs are created.
     */
    void noteOnInternalError(String note) {
        internalErrorNote = note;
    }

    /** The VM's file descriptor, for the backend's own use. */
    public KvmVmFd fd() {
        return vm;
    }

    @Override
    public Arch arch() {
        return arch;
    }

    @Override
    public void setMemoryRegion(MemoryRegion region) {
        long size = region.region().size();
        long page = LibC.pageSize();
        if (region.region().guestAddress() % page != 0 || size % page != 0) {
            throw new IllegalArgumentException(String.format(
                    "memory slot %d: guest range 0x%x+0x%x is not aligned to the %d-byte page",
                    region.slot(), region.region().guestAddress(), size, page));
        }
        int flags = (region.readOnly() ? KvmConstants.KVM_MEM_READONLY : 0)
                | (region.logDirty() ? KvmConstants.KVM_MEM_LOG_DIRTY_PAGES : 0);
        vm.setUserMemoryRegion(region.slot(), flags, region.region().guestAddress(), size,
                region.region().host().address());
        slots.put(region.slot(), region);
    }

    @Override
    public void removeMemoryRegion(int slot) {
        MemoryRegion r = slots.remove(slot);
        if (r == null) {
            throw new IllegalArgumentException("memory slot " + slot + " is not installed");
        }
        vm.setUserMemoryRegion(slot, 0, r.region().guestAddress(), 0, 0);
    }

    @Override
    public BitSet dirtyLog(int slot) {
        MemoryRegion r = slots.get(slot);
        if (r == null) {
            throw new IllegalArgumentException("memory slot " + slot + " is not installed");
        }
        if (!r.logDirty()) {
            throw new IllegalStateException("memory slot " + slot + " was installed without dirty logging");
        }
        long pages = r.region().size() / LibC.pageSize();
        int words = (int) ((pages + 63) / 64);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment bitmap = arena.allocate(8L * words, 8);
            vm.getDirtyLog(slot, bitmap);
            return BitSet.valueOf(bitmap.toArray(JAVA_LONG));
        }
    }

    @Override
    public synchronized IrqChip createIrqChip(IrqChipConfig config) {
        if (irqChip != null) {
            throw new IllegalStateException("this VM has an interrupt controller already");
        }
        if (!vcpus.isEmpty()) {
            throw new IllegalStateException("the interrupt controller must be created before the first vCPU");
        }
        IrqChip chip = switch (config) {
            case IrqChipConfig.X86Legacy x -> {
                requireArch(Arch.X86_64, config);
                yield X86LegacyIrqChip.create(x, vm);
            }
            case IrqChipConfig.X86Split x -> {
                requireArch(Arch.X86_64, config);
                yield X86SplitIrqChip.create(x, vm);
            }
            case IrqChipConfig.GicV3 g -> {
                requireArch(Arch.AARCH64, config);
                yield GicV3IrqChip.create(g, vm, this::vcpuIds);
            }
            case IrqChipConfig.Aia a -> {
                requireArch(Arch.RISCV64, config);
                yield AiaIrqChip.create(a, vm, this::vcpuCount);
            }
        };
        irqChip = chip;
        return chip;
    }

    private void requireArch(Arch wanted, IrqChipConfig config) {
        if (arch != wanted) {
            throw new IllegalArgumentException(config.getClass().getSimpleName() + " is for " + wanted.id()
                    + ", this VM is " + arch.id());
        }
    }

    private synchronized int vcpuCount() {
        return vcpus.size();
    }

    private synchronized int[] vcpuIds() {
        return vcpus.stream().mapToInt(KvmVcpu::id).toArray();
    }

    @Override
    public Optional<IrqChip> irqChip() {
        return Optional.ofNullable(irqChip);
    }

    @Override
    public synchronized Vcpu createVcpu(int id) {
        if (closed) {
            throw new IllegalStateException("VM is closed");
        }
        if (id < 0 || id >= maxVcpus) {
            throw new IllegalArgumentException("vCPU id " + id + " is outside 0.." + (maxVcpus - 1));
        }
        KvmVcpuFd fd = vm.createVcpu(id);
        KvmVcpu vcpu;
        try {
            vcpu = newVcpu(fd);
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
        vcpu.noteOnInternalError(internalErrorNote);
        vcpus.add(vcpu);
        return vcpu;
    }

    /** The SPI vCPU over a new vCPU descriptor; {@link KvmX86Vm} makes the x86-64 one. */
    KvmVcpu newVcpu(KvmVcpuFd fd) {
        return switch (arch) {
            case X86_64 -> throw new IllegalStateException("an x86-64 KVM VM is a KvmX86Vm");
            case AARCH64 -> new KvmAarch64Vcpu(fd, vm);
            case RISCV64 -> new KvmRiscv64Vcpu(fd);
        };
    }

    final List<CpuidEntry> supportedCpuid() {
        List<CpuidEntry> c = supportedCpuid;
        if (c == null) {
            c = List.copyOf(system.getSupportedCpuid());
            supportedCpuid = c;
        }
        return c;
    }

    @Override
    public void registerIrqfd(EventFd fd, int gsi) {
        vm.irqfd(fd.fd(), gsi, false);
    }

    @Override
    public void unregisterIrqfd(EventFd fd, int gsi) {
        vm.irqfd(fd.fd(), gsi, true);
    }

    @Override
    public void registerIoeventfd(EventFd fd, IoEventAddress address, OptionalLong datamatch) {
        ioeventfd(fd, address, datamatch, false);
    }

    @Override
    public void unregisterIoeventfd(EventFd fd, IoEventAddress address, OptionalLong datamatch) {
        ioeventfd(fd, address, datamatch, true);
    }

    private void ioeventfd(EventFd fd, IoEventAddress address, OptionalLong datamatch, boolean deassign) {
        boolean pio = address.space() == IoEventAddress.Space.PIO;
        if (pio && arch != Arch.X86_64) {
            throw new IllegalArgumentException("port I/O exists on x86-64 only");
        }
        if (datamatch.isPresent() && address.length() == 0) {
            throw new IllegalArgumentException("an ioeventfd with datamatch needs a length");
        }
        vm.ioeventfd(fd.fd(), address.address(), address.length(), pio, datamatch.isPresent(),
                datamatch.orElse(0), deassign);
    }

    @Override
    public void setGsiRouting(List<GsiRoute> routes) {
        vm.setGsiRouting(routes);
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (KvmVcpu v : vcpus) {
            v.close();
        }
        vcpus.clear();
        if (irqChip instanceof AutoCloseable c) {
            try {
                c.close();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
        vm.close();
        system.close();
    }
}
