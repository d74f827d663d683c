package dev.nimbus.arch.riscv64.boot;

import dev.nimbus.hypervisor.arch.BootException;
import dev.nimbus.hypervisor.arch.BootFiles;
import dev.nimbus.hypervisor.arch.BootImages;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;
import dev.nimbus.hypervisor.memory.GuestMemoryException;

import java.util.Optional;

/**
 * Puts a riscv64 Image and its initramfs into guest RAM and keeps the place of the device tree
 * (Documentation/arch/riscv/boot.rst):
 * <ul>
 *   <li>the image {@code text_offset} bytes above the start of RAM (2 MiB-aligned, a PMD boundary), with
 *       {@code image_size} bytes free from there;</li>
 *   <li>the device tree in the last 2 MiB of the first GiB of RAM (or of RAM, when smaller): 8-byte
 *       aligned, at most 2 MiB (what the kernel's early fixmap maps), in a 2 MiB region of its own, far from
 *       the kernel, which relocates nothing over it;</li>
 *   <li>the initramfs right below the device tree, page-aligned, above the kernel.</li>
 * </ul>
 * The device tree itself is written later, by {@link Riscv64BootPlan#setupVcpu}: it names each hart's ISA,
 * which only the vCPUs know. Everything a user can get wrong (the files) is checked here, before any VM exists.
 */
public final class ImageLoader {
    private ImageLoader() {}

    /** The window of RAM, from its start, that boot structures stay in: within reach of any RV64 kernel's early mappings. */
    public static final long BOOT_WINDOW = 1L << 30;
    /** The most bytes a device tree may have, and the alignment of the region it sits in. */
    public static final long FDT_MAX = 2L << 20;

    /** Where the loader put things, and where the device tree goes. */
    public record Placement(RiscvImage image, long kernel, long kernelEnd, Optional<AddressRange> initramfs, long fdt) {}

    /** Loads the kernel and initramfs of {@code images} into {@code ram} (the first RAM range). */
    public static Placement load(GuestMemory memory, AddressRange ram, BootImages images) throws BootException {
        if (ram.base() % RiscvImage.ALIGNMENT != 0) {
            throw new IllegalArgumentException("riscv64 RAM must start 2 MiB-aligned, not at " + ram);
        }
        long windowEnd = Math.min(ram.end(), ram.base() + BOOT_WINDOW);
        long fdtAddress = (windowEnd - FDT_MAX) & -FDT_MAX;
        if (fdtAddress < ram.base()) {
            throw new IllegalArgumentException("riscv64 RAM " + ram + " has no room for a device tree");
        }
        RiscvImage image = RiscvImage.read(images.kernel(), fdtAddress - ram.base());
        long load = ram.base() + image.textOffset();
        long kernelEnd = load + image.imageSize();
        if (image.textOffset() >= fdtAddress - ram.base() || kernelEnd > fdtAddress) {
            throw new BootException(String.format("kernel %s: needs 0x%x bytes (image_size) from 0x%x, more than RAM holds below the device tree at 0x%x",
                    images.kernel(), image.imageSize(), load, fdtAddress));
        }
        try {
            memory.write(load, image.bytes());
            memory.fill(load + image.bytes().length, kernelEnd - load - image.bytes().length, (byte) 0);
            Optional<AddressRange> initramfs = BootFiles.loadInitramfs(memory, images.initramfs(), kernelEnd, fdtAddress, "the device tree");
            return new Placement(image, load, kernelEnd, initramfs, fdtAddress);
        } catch (GuestMemoryException e) {
            throw new IllegalStateException("the riscv64 boot layout points outside guest RAM: " + e.getMessage(), e);
        }
    }
}
