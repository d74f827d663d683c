package dev.nimbus.arch.riscv64.boot;

import dev.nimbus.arch.riscv64.hart.HartFeatures;
import dev.nimbus.arch.riscv64.hart.Registers;
import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.arch.BootPlan;
import dev.nimbus.hypervisor.memory.GuestMemory;
import dev.nimbus.hypervisor.memory.GuestMemoryException;
import dev.nimbus.hypervisor.riscv64.Riscv64Vcpu;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;

/**
 * How the harts of a riscv64 Image boot start (Documentation/arch/riscv/boot.rst): the boot hart at the
 * image's first byte in S-mode with the MMU off ({@code satp} = 0), {@code a0} = its hart id and {@code a1}
 * = the device tree's address; the others stay stopped, as KVM creates every hart but the first, until the
 * kernel starts them with SBI HSM {@code hart_start}, which KVM handles.
 *
 * <p>The device tree names each hart's ISA, paging mode and timebase as its vCPU reports them, so it is
 * written here rather than by {@code loadKernel}: {@link #setupVcpu} reads the hart's features on the hart's
 * own thread, and the last hart to be set up writes the tree. The VMM lets no vCPU run before every vCPU is
 * set up, so the boot hart never starts before its tree is in memory.
 */
public final class Riscv64BootPlan implements BootPlan {
    private final GuestMemory memory;
    private final long entryPoint;
    private final long fdtAddress;
    private final long fdtMax;
    private final Function<List<HartFeatures>, byte[]> deviceTree;
    private final HartFeatures[] harts;
    private int reported;
    private boolean written;

    /**
     * @param harts      how many harts the machine has (the tree is written once all of them are set up)
     * @param deviceTree the tree for the harts' features, boot hart first
     */
    public Riscv64BootPlan(GuestMemory memory, long entryPoint, long fdtAddress, long fdtMax, int harts,
                           Function<List<HartFeatures>, byte[]> deviceTree) {
        if (harts < 1) {
            throw new IllegalArgumentException("a machine needs at least one hart");
        }
        this.memory = Objects.requireNonNull(memory, "memory");
        this.entryPoint = entryPoint;
        this.fdtAddress = fdtAddress;
        this.fdtMax = fdtMax;
        this.deviceTree = Objects.requireNonNull(deviceTree, "deviceTree");
        this.harts = new HartFeatures[harts];
    }

    @Override
    public String protocol() {
        return "riscv-image";
    }

    @Override
    public long entryPoint() {
        return entryPoint;
    }

    /** The device tree's guest address, which the boot hart gets in {@code a1}. */
    public long fdtAddress() {
        return fdtAddress;
    }

    @Override
    public void setupVcpu(Vcpu vcpu, int index) {
        Riscv64Vcpu hart = vcpu.as(Riscv64Vcpu.class);
        report(index, HartFeatures.read(hart));
        if (index != 0) {
            return; // stopped until SBI HSM hart_start, which sets its start address and a1
        }
        hart.setOneReg(Registers.SATP, 0);
        hart.setOneReg(Registers.MODE, Registers.MODE_S);
        hart.setOneReg(Registers.a(0), index);
        hart.setOneReg(Registers.a(1), fdtAddress);
        hart.setOneReg(Registers.PC, entryPoint);
    }

    /** Keeps hart {@code index}'s features; the last hart to report writes the device tree. */
    private synchronized void report(int index, HartFeatures features) {
        if (index < 0 || index >= harts.length) {
            throw new IllegalArgumentException("hart " + index + " of a " + harts.length + "-hart machine");
        }
        if (harts[index] != null) {
            throw new IllegalStateException("hart " + index + " was set up twice");
        }
        harts[index] = features;
        if (++reported < harts.length) {
            return;
        }
        byte[] blob = deviceTree.apply(Arrays.asList(harts.clone()));
        if (blob.length > fdtMax) {
            throw new IllegalStateException(String.format("the device tree is %d bytes, more than the %d a kernel accepts", blob.length, fdtMax));
        }
        try {
            memory.write(fdtAddress, blob);
        } catch (GuestMemoryException e) {
            throw new IllegalStateException("the riscv64 device tree's place 0x" + Long.toHexString(fdtAddress) + " is outside guest RAM", e);
        }
        written = true;
    }

    /** Whether every hart was set up and the device tree written. */
    public synchronized boolean deviceTreeWritten() {
        return written;
    }
}
