package dev.nimbus.kvm.fd;

import dev.nimbus.host.NativeIoctl;
import dev.nimbus.hypervisor.GsiRoute;
import dev.nimbus.hypervisor.MsiMessage;
import dev.nimbus.host.Errno;
import dev.nimbus.host.LibC;
import dev.nimbus.host.SyscallException;
import dev.nimbus.kvm.abi.KvmConstants;
import dev.nimbus.kvm.abi.KvmIoctls;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

import static dev.nimbus.kvm.abi.Arm64KvmStructs.KVM_VCPU_INIT;
import static dev.nimbus.kvm.abi.Arm64KvmStructs.VCPU_INIT_FEATURES;
import static dev.nimbus.kvm.abi.Arm64KvmStructs.VCPU_INIT_FEATURE_WORDS;
import static dev.nimbus.kvm.abi.Arm64KvmStructs.VCPU_INIT_TARGET;
import static dev.nimbus.kvm.abi.KvmIoctls.*;
import static dev.nimbus.kvm.abi.KvmStructs.*;
// the struct layouts, not the ioctl numbers of the same names (those are written KvmIoctls.KVM_...)
import static dev.nimbus.kvm.abi.KvmStructs.KVM_CREATE_DEVICE;
import static dev.nimbus.kvm.abi.KvmStructs.KVM_ENABLE_CAP;
import static dev.nimbus.kvm.abi.KvmStructs.KVM_IOEVENTFD;
import static dev.nimbus.kvm.abi.KvmStructs.KVM_IRQFD;
import static dev.nimbus.kvm.abi.X86KvmStructs.IRQCHIP_CHIP_ID;
import static dev.nimbus.kvm.abi.X86KvmStructs.KVM_IRQCHIP;
import static dev.nimbus.kvm.abi.X86KvmStructs.KVM_PIT_CONFIG;
import static dev.nimbus.kvm.abi.X86KvmStructs.KVM_PIT_STATE2;
import static dev.nimbus.kvm.abi.X86KvmStructs.PIT_CONFIG_FLAGS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** A VM file descriptor: memory slots, vCPUs, interrupt plumbing and in-kernel devices. Thread-safe. */
public final class KvmVmFd extends KvmFd {
    private final int vcpuMmapSize;

    KvmVmFd(int fd, int vcpuMmapSize, NativeIoctl nativeIoctl) {
        super(fd, nativeIoctl);
        this.vcpuMmapSize = vcpuMmapSize;
    }

    /** {@code KVM_CHECK_EXTENSION} on the VM fd (the answer may differ per VM on AArch64 and riscv64). */
    public int checkExtension(int capability) {
        return ioctl(KVM_CHECK_EXTENSION, capability, "KVM_CHECK_EXTENSION");
    }

    /**
     * {@code KVM_SET_USER_MEMORY_REGION}: maps {@code size} bytes of host memory at {@code hostAddress} to
     * guest physical address {@code gpa} as slot {@code slot}; size 0 deletes the slot. {@code flags}:
     * {@link KvmConstants#KVM_MEM_READONLY}, {@link KvmConstants#KVM_MEM_LOG_DIRTY_PAGES}.
     */
    public void setUserMemoryRegion(int slot, int flags, long gpa, long size, long hostAddress) {
        MemorySegment s = scratch(KVM_USERSPACE_MEMORY_REGION.byteSize());
        s.set(JAVA_INT, MEMORY_REGION_SLOT, slot);
        s.set(JAVA_INT, MEMORY_REGION_FLAGS, flags);
        s.set(JAVA_LONG, MEMORY_REGION_GUEST_PHYS_ADDR, gpa);
        s.set(JAVA_LONG, MEMORY_REGION_MEMORY_SIZE, size);
        s.set(JAVA_LONG, MEMORY_REGION_USERSPACE_ADDR, hostAddress);
        ioctl(KVM_SET_USER_MEMORY_REGION, s, "KVM_SET_USER_MEMORY_REGION");
    }

    /**
     * {@code KVM_GET_DIRTY_LOG}: fills {@code bitmap} (one bit per page of the slot, rounded up to 64 bits)
     * with the pages written since the last call, and clears the record.
     */
    public void getDirtyLog(int slot, MemorySegment bitmap) {
        MemorySegment s = scratch(KVM_DIRTY_LOG.byteSize());
        s.set(JAVA_INT, DIRTY_LOG_SLOT, slot);
        s.set(JAVA_LONG, DIRTY_LOG_DIRTY_BITMAP, bitmap.address());
        ioctl(KVM_GET_DIRTY_LOG, s, "KVM_GET_DIRTY_LOG");
    }

    /** {@code KVM_CREATE_VCPU} and the mapping of its kvm_run page. */
    public KvmVcpuFd createVcpu(int id) {
        int vcpuFd = ioctl(KVM_CREATE_VCPU, id, "KVM_CREATE_VCPU(" + id + ")");
        try {
            MemorySegment run = LibC.mmap(vcpuMmapSize, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, vcpuFd, 0,
                    "mmap(kvm_run of vCPU " + id + ")");
            return new KvmVcpuFd(vcpuFd, id, run.address(), vcpuMmapSize, nativeIoctl);
        } catch (RuntimeException e) {
            LibC.close(vcpuFd);
            throw e;
        }
    }

    /** {@code KVM_IRQFD}: binds ({@code deassign} false) or unbinds an eventfd to global interrupt {@code gsi}. */
    public void irqfd(int eventFd, int gsi, boolean deassign) {
        MemorySegment s = scratch(KVM_IRQFD.byteSize());
        s.set(JAVA_INT, IRQFD_FD, eventFd);
        s.set(JAVA_INT, IRQFD_GSI, gsi);
        s.set(JAVA_INT, IRQFD_FLAGS, deassign ? KvmConstants.KVM_IRQFD_FLAG_DEASSIGN : 0);
        ioctl(KvmIoctls.KVM_IRQFD, s, deassign ? "KVM_IRQFD(deassign)" : "KVM_IRQFD");
    }

    /**
     * {@code KVM_IOEVENTFD}: a guest write of {@code length} bytes (0: any) at {@code address} in the PIO
     * ({@code pio}) or MMIO space signals {@code eventFd}; with {@code datamatch} only writes of
     * {@code value}. {@code deassign} removes an identical registration.
     */
    public void ioeventfd(int eventFd, long address, int length, boolean pio, boolean datamatch, long value,
                          boolean deassign) {
        MemorySegment s = scratch(KVM_IOEVENTFD.byteSize());
        int flags = (pio ? KvmConstants.KVM_IOEVENTFD_FLAG_PIO : 0)
                | (datamatch ? KvmConstants.KVM_IOEVENTFD_FLAG_DATAMATCH : 0)
                | (deassign ? KvmConstants.KVM_IOEVENTFD_FLAG_DEASSIGN : 0);
        s.set(JAVA_LONG, IOEVENTFD_DATAMATCH, datamatch ? value : 0);
        s.set(JAVA_LONG, IOEVENTFD_ADDR, address);
        s.set(JAVA_INT, IOEVENTFD_LEN, length);
        s.set(JAVA_INT, IOEVENTFD_FD, eventFd);
        s.set(JAVA_INT, IOEVENTFD_FLAGS, flags);
        ioctl(KvmIoctls.KVM_IOEVENTFD, s, deassign ? "KVM_IOEVENTFD(deassign)" : "KVM_IOEVENTFD");
    }

    /** Encodes a routing table as {@code struct kvm_irq_routing} into {@code into} (sized by {@link #routingSize}). */
    public static void encodeRouting(List<GsiRoute> routes, MemorySegment into) {
        into.fill((byte) 0);
        into.set(JAVA_INT, IRQ_ROUTING_NR, routes.size());
        long entrySize = KVM_IRQ_ROUTING_ENTRY.byteSize();
        for (int i = 0; i < routes.size(); i++) {
            MemorySegment e = into.asSlice(KVM_IRQ_ROUTING.byteSize() + i * entrySize, entrySize);
            GsiRoute r = routes.get(i);
            e.set(JAVA_INT, ROUTING_ENTRY_GSI, r.gsi());
            switch (r) {
                case GsiRoute.IrqchipPin p -> {
                    e.set(JAVA_INT, ROUTING_ENTRY_TYPE, KvmConstants.KVM_IRQ_ROUTING_IRQCHIP);
                    e.set(JAVA_INT, ROUTING_ENTRY_IRQCHIP_IRQCHIP, p.chip());
                    e.set(JAVA_INT, ROUTING_ENTRY_IRQCHIP_PIN, p.pin());
                }
                case GsiRoute.Msi m -> {
                    MsiMessage msg = m.message();
                    e.set(JAVA_INT, ROUTING_ENTRY_TYPE, KvmConstants.KVM_IRQ_ROUTING_MSI);
                    e.set(JAVA_INT, ROUTING_ENTRY_MSI_ADDRESS_LO, (int) msg.address());
                    e.set(JAVA_INT, ROUTING_ENTRY_MSI_ADDRESS_HI, (int) (msg.address() >>> 32));
                    e.set(JAVA_INT, ROUTING_ENTRY_MSI_DATA, msg.data());
                    if (msg.hasDeviceId()) {
                        e.set(JAVA_INT, ROUTING_ENTRY_FLAGS, KvmConstants.KVM_MSI_VALID_DEVID);
                        e.set(JAVA_INT, ROUTING_ENTRY_MSI_DEVID, msg.deviceId());
                    }
                }
            }
        }
    }

    /** Bytes of a {@code struct kvm_irq_routing} with {@code n} entries. */
    public static long routingSize(int n) {
        return KVM_IRQ_ROUTING.byteSize() + n * KVM_IRQ_ROUTING_ENTRY.byteSize();
    }

    /** {@code KVM_SET_GSI_ROUTING}: replaces the whole routing table. */
    public void setGsiRouting(List<GsiRoute> routes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(routingSize(routes.size()), 8);
            encodeRouting(routes, s);
            ioctl(KVM_SET_GSI_ROUTING, s, "KVM_SET_GSI_ROUTING");
        }
    }

    /**
     * {@code KVM_IRQ_LINE}: sets the level of interrupt line {@code irq} (its encoding is per architecture).
     * Every legacy device interrupt comes here, from several threads at once; it allocates nothing: the
     * struct is filled in the calling thread's {@link #scratch} (checked by {@code IrqLineAllocationTest}).
     */
    public void irqLine(int irq, boolean level) {
        MemorySegment s = scratch(KVM_IRQ_LEVEL.byteSize());
        s.set(JAVA_INT, IRQ_LEVEL_IRQ, irq);
        s.set(JAVA_INT, IRQ_LEVEL_LEVEL, level ? 1 : 0);
        ioctl(KVM_IRQ_LINE, s, "KVM_IRQ_LINE");
    }

    /** {@code KVM_SIGNAL_MSI}: returns {@code > 0} when delivered, 0 when the guest blocked it. */
    public int signalMsi(MsiMessage msi) {
        MemorySegment s = scratch(KVM_MSI.byteSize());
        s.set(JAVA_INT, MSI_ADDRESS_LO, (int) msi.address());
        s.set(JAVA_INT, MSI_ADDRESS_HI, (int) (msi.address() >>> 32));
        s.set(JAVA_INT, MSI_DATA, msi.data());
        if (msi.hasDeviceId()) {
            s.set(JAVA_INT, MSI_FLAGS, KvmConstants.KVM_MSI_VALID_DEVID);
            s.set(JAVA_INT, MSI_DEVID, msi.deviceId());
        }
        return ioctl(KVM_SIGNAL_MSI, s, "KVM_SIGNAL_MSI");
    }

    /** {@code KVM_ENABLE_CAP} on the VM with up to four arguments. */
    public void enableCap(int capability, long... args) {
        if (args.length > 4) {
            throw new IllegalArgumentException("KVM_ENABLE_CAP takes at most 4 arguments");
        }
        MemorySegment s = scratch(KVM_ENABLE_CAP.byteSize());
        s.set(JAVA_INT, ENABLE_CAP_CAP, capability);
        for (int i = 0; i < args.length; i++) {
            s.set(JAVA_LONG, ENABLE_CAP_ARGS + 8L * i, args[i]);
        }
        ioctl(KvmIoctls.KVM_ENABLE_CAP, s, "KVM_ENABLE_CAP(" + capability + ")");
    }

    /** {@code KVM_CREATE_DEVICE}: an in-kernel device of {@code type} (KVM_DEV_TYPE_*). */
    public KvmDeviceFd createDevice(int type) {
        MemorySegment s = scratch(KVM_CREATE_DEVICE.byteSize());
        s.set(JAVA_INT, CREATE_DEVICE_TYPE, type);
        ioctl(KvmIoctls.KVM_CREATE_DEVICE, s, "KVM_CREATE_DEVICE(type " + type + ")");
        return new KvmDeviceFd(s.get(JAVA_INT, CREATE_DEVICE_FD), type, nativeIoctl);
    }

    /**
     * {@code KVM_CREATE_DEVICE} with {@code KVM_CREATE_DEVICE_TEST}: whether this VM could have an in-kernel
     * device of {@code type}, without creating one. The kernel answers ENODEV for a type it does not offer.
     */
    public boolean canCreateDevice(int type) {
        MemorySegment s = scratch(KVM_CREATE_DEVICE.byteSize());
        s.set(JAVA_INT, CREATE_DEVICE_TYPE, type);
        s.set(JAVA_INT, CREATE_DEVICE_FLAGS, KvmConstants.KVM_CREATE_DEVICE_TEST);
        String name = "KVM_CREATE_DEVICE(type " + type + ", KVM_CREATE_DEVICE_TEST)";
        int r = ioctlErrno(KvmIoctls.KVM_CREATE_DEVICE, s, name);
        if (r >= 0) {
            return true;
        }
        if (-r == Errno.ENODEV) {
            return false;
        }
        throw new SyscallException(name, -r);
    }

    /** {@code KVM_CREATE_IRQCHIP}: the x86 PIC pair and IOAPIC (or a GICv2 on AArch64). */
    public void createIrqchip() {
        ioctl(KVM_CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP");
    }

    /** {@code KVM_CREATE_PIT2} (x86-64) with {@code flags} (KVM_PIT_SPEAKER_DUMMY). */
    public void createPit2(int flags) {
        MemorySegment s = scratch(KVM_PIT_CONFIG.byteSize());
        s.set(JAVA_INT, PIT_CONFIG_FLAGS, flags);
        ioctl(KVM_CREATE_PIT2, s, "KVM_CREATE_PIT2");
    }

    /**
     * {@code KVM_GET_IRQCHIP} (x86-64): the state of one in-kernel controller ({@code chipId}
     * {@link KvmConstants#KVM_IRQCHIP_PIC_MASTER}, {@code _PIC_SLAVE} or {@code _IOAPIC}) as the kernel's
     * {@code struct kvm_irqchip}.
     */
    public byte[] getIrqchip(int chipId) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(KVM_IRQCHIP);
            s.set(JAVA_INT, IRQCHIP_CHIP_ID, chipId);
            ioctl(KvmIoctls.KVM_GET_IRQCHIP, s, "KVM_GET_IRQCHIP");
            return s.toArray(JAVA_BYTE);
        }
    }

    /** {@code KVM_SET_IRQCHIP} (x86-64) from a {@code struct kvm_irqchip}; its {@code chip_id} says which controller. */
    public void setIrqchip(byte[] irqchip) {
        setStruct(KvmIoctls.KVM_SET_IRQCHIP, KVM_IRQCHIP, irqchip, "KVM_SET_IRQCHIP");
    }

    /** {@code KVM_GET_PIT2} (x86-64): the in-kernel i8254 as the kernel's {@code struct kvm_pit_state2}. */
    public byte[] getPit2() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(KVM_PIT_STATE2);
            ioctl(KVM_GET_PIT2, s, "KVM_GET_PIT2");
            return s.toArray(JAVA_BYTE);
        }
    }

    /** {@code KVM_SET_PIT2} (x86-64) from a {@code struct kvm_pit_state2}. */
    public void setPit2(byte[] pit) {
        setStruct(KVM_SET_PIT2, KVM_PIT_STATE2, pit, "KVM_SET_PIT2");
    }


    /** {@code KVM_SET_TSS_ADDR} (x86-64): a 3-page guest range for the real-mode TSS on Intel. */
    public void setTssAddr(long address) {
        ioctl(KVM_SET_TSS_ADDR, address, "KVM_SET_TSS_ADDR");
    }

    /** {@code KVM_SET_IDENTITY_MAP_ADDR} (x86-64): a 1-page guest range; before any vCPU is created. */
    public void setIdentityMapAddr(long address) {
        MemorySegment s = scratch(JAVA_LONG.byteSize());  // the argument is a pointer to a __u64
        s.set(JAVA_LONG, 0, address);
        ioctl(KVM_SET_IDENTITY_MAP_ADDR, s, "KVM_SET_IDENTITY_MAP_ADDR");
    }

    /** {@code KVM_GET_CLOCK} (x86-64): the kvmclock value in nanoseconds. */
    public long getClock() {
        MemorySegment s = scratch(KVM_CLOCK_DATA.byteSize());
        ioctl(KVM_GET_CLOCK, s, "KVM_GET_CLOCK");
        return s.get(JAVA_LONG, CLOCK_DATA_CLOCK);
    }

    /** {@code KVM_SET_CLOCK} (x86-64). */
    public void setClock(long nanos) {
        MemorySegment s = scratch(KVM_CLOCK_DATA.byteSize());
        s.set(JAVA_LONG, CLOCK_DATA_CLOCK, nanos);
        ioctl(KVM_SET_CLOCK, s, "KVM_SET_CLOCK");
    }

    /** {@code KVM_ARM_PREFERRED_TARGET} (AArch64): the target and features to initialize vCPUs with. */
    public int[] armPreferredTarget() {
        MemorySegment s = scratch(KVM_VCPU_INIT.byteSize());
        ioctl(KVM_ARM_PREFERRED_TARGET, s, "KVM_ARM_PREFERRED_TARGET");
        int[] out = new int[1 + VCPU_INIT_FEATURE_WORDS];
        out[0] = s.get(JAVA_INT, VCPU_INIT_TARGET);
        MemorySegment.copy(s, JAVA_INT, VCPU_INIT_FEATURES, out, 1, VCPU_INIT_FEATURE_WORDS);
        return out;
    }

}
