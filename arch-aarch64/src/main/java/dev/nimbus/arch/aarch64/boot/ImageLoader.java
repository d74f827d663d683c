package dev.nimbus.arch.aarch64.boot;

import dev.nimbus.arch.aarch64.Aarch64Layout;
import dev.nimbus.hypervisor.arch.BootException;
import dev.nimbus.hypervisor.arch.BootFiles;
import dev.nimbus.hypervisor.arch.BootImages;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;
import dev.nimbus.hypervisor.memory.GuestMemoryException;

import java.util.Optional;
import java.util.function.Function;

/**
 * Puts an arm64 Image, its initramfs and its device tree into guest RAM (booting.rst):
 * <ul>
 *   <li>the image {@code text_offset} bytes above the start of RAM (2 MiB-aligned), with
 *       {@code image_size} bytes free from there;</li>
 *   <li>the device tree in the last 2 MiB of the first GiB of RAM (or of RAM, when smaller): 8-byte
 *       aligned, at most 2 MiB, in a 2 MiB region of its own;</li>
 *   <li>the initramfs right below the device tree, page-aligned, above the kernel.</li>
 * </ul>
 * The kernel finds everything through x0 (the device tree) and the device tree's {@code /chosen}.
 */
public final class ImageLoader {
    private ImageLoader() {}

    /** The window of RAM, from its start, the kernel's early mappings must reach. */
    public static final long BOOT_WINDOW = Aarch64Layout.GIB;
    /** The most bytes a device tree may have, and the alignment of the region it sits in. */
    public static final long FDT_MAX = 2 * Aarch64Layout.MIB;

    /** Where the loader put things. */
    public record Placement(long kernel, long kernelEnd, Optional<AddressRange> initramfs, long fdt) {}

    /**
     * Loads the kernel and initramfs of {@code images} into {@code ram} (the first RAM range) and writes
     * the device tree {@code fdt} makes for the initramfs range it is given.
     */
    public static Placement load(GuestMemory memory, AddressRange ram, BootImages images,
                                 Function<Optional<AddressRange>, byte[]> fdt) throws BootException {
        if (ram.base() % (2 * Aarch64Layout.MIB) != 0) {
            throw new IllegalArgumentException("aarch64 RAM must start 2 MiB-aligned, not at " + ram);
        }
        long windowEnd = Math.min(ram.end(), ram.base() + BOOT_WINDOW);
        long fdtAddress = (windowEnd - FDT_MAX) & -FDT_MAX;
        Arm64Image image = Arm64Image.read(images.kernel(), fdtAddress - ram.base());
        long load = ram.base() + image.textOffset();
        long kernelEnd = load + image.imageSize();
        if (kernelEnd > fdtAddress) {
            throw new BootException(String.format("kernel %s: needs 0x%x bytes (image_size) from 0x%x, more than RAM holds below the device tree at 0x%x",
                    images.kernel(), image.imageSize(), load, fdtAddress));
        }
        try {
            memory.write(load, image.bytes());
            memory.fill(load + image.bytes().length, kernelEnd - load - image.bytes().length, (byte) 0);
            Optional<AddressRange> initramfs = BootFiles.loadInitramfs(memory, images.initramfs(), kernelEnd, fdtAddress, "the device tree");
            byte[] blob = fdt.apply(initramfs);
            if (blob.length > FDT_MAX) {
                throw new BootException(String.format("the device tree is %d bytes, more than the %d a kernel accepts", blob.length, FDT_MAX));
            }
            memory.write(fdtAddress, blob);
            return new Placement(load, kernelEnd, initramfs, fdtAddress);
        } catch (GuestMemoryException e) {
            throw new IllegalStateException("the aarch64 boot layout points outside guest RAM: " + e.getMessage(), e);
        }
    }
}
