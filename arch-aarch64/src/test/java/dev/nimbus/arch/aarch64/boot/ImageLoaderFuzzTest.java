package dev.nimbus.arch.aarch64.boot;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.nimbus.arch.aarch64.Aarch64Layout;
import dev.nimbus.hypervisor.arch.BootException;
import dev.nimbus.hypervisor.arch.BootImages;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzz target for the arm64 loader fed an arbitrary file as {@code --kernel}: seeded with small valid
 * Images (a 3.17+ header, a pre-3.17 one with image_size 0, and a gzip-compressed one), which the fuzzer
 * mutates. RAM is 16 MiB at 1 GiB, as on the virt machine, so the device tree goes at 1 GiB + 14 MiB and a
 * kernel may use up to 14 MiB.
 *
 * <p>Invariants: the file is loaded, or refused with a {@link BootException} naming the kernel (the
 * one-line error, exit 2); nothing else is thrown: no IndexOutOfBounds, NegativeArraySize, OutOfMemory,
 * no write outside guest RAM (guest memory refuses one, which the loader turns into an
 * IllegalStateException). A loaded kernel sits {@code text_offset} above the start of RAM, 4 KiB-aligned,
 * its image_size ends at or below the device tree, the device tree lies in RAM, and guest RAM holds the
 * image's first bytes where it says it put them.
 */
class ImageLoaderFuzzTest {
    static final AddressRange RAM = new AddressRange(Aarch64Layout.GIB, 16 * Aarch64Layout.MIB);
    static final GuestMemory MEMORY = GuestMemory.allocate(List.of(RAM));
    static final byte[] FDT = new byte[64];
    static final Path KERNEL;

    static {
        try {
            KERNEL = Files.createTempFile("nimbus-fuzz", ".Image");
            KERNEL.toFile().deleteOnExit();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @FuzzTest(maxDuration = "30s")
    void anArm64ImageIsLoadedInsideRamOrRefused(byte[] file) throws Exception {
        Files.write(KERNEL, file);
        ImageLoader.Placement p;
        try {
            p = ImageLoader.load(MEMORY, RAM, new BootImages(KERNEL, Optional.empty(), ""), initramfs -> FDT);
        } catch (BootException refused) {
            assertThat(refused.getMessage()).as("a refusal names the kernel").startsWith("kernel " + KERNEL);
            return;
        }
        assertThat(p.kernel()).as("load address").isBetween(RAM.base(), RAM.base() + 2 * Aarch64Layout.MIB - 1);
        assertThat(p.kernel() % 4096).as("load address alignment").isZero();
        assertThat(p.kernelEnd()).as("the kernel's end").isGreaterThan(p.kernel()).isLessThanOrEqualTo(p.fdt());
        assertThat(p.fdt() + FDT.length).as("the device tree's end").isLessThanOrEqualTo(RAM.end());
        assertThat(p.fdt() % 8).as("device tree alignment").isZero();
        boolean gzip = file.length >= 2 && (file[0] & 0xff) == 0x1f && (file[1] & 0xff) == 0x8b;
        if (!gzip) {
            byte[] loaded = new byte[Math.min(file.length, 256)];
            MEMORY.read(p.kernel(), loaded);
            assertThat(loaded).as("the image in RAM").isEqualTo(java.util.Arrays.copyOf(file, loaded.length));
        }
    }
}
