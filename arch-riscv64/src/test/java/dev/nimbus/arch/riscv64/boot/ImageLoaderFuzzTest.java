package dev.nimbus.arch.riscv64.boot;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.nimbus.arch.riscv64.Riscv64Layout;
import dev.nimbus.hypervisor.arch.BootException;
import dev.nimbus.hypervisor.arch.BootImages;
import dev.nimbus.hypervisor.memory.AddressRange;
import dev.nimbus.hypervisor.memory.GuestMemory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzz target for the riscv64 loader fed an arbitrary file as {@code --kernel}: seeded with small valid
 * Images (header 0.2, an EFI-stub one starting with "MZ", an old one with only the "RISCV" magic, and a
 * gzip-compressed one), which the fuzzer mutates. RAM is 16 MiB at 0x8000_0000, as on the riscv64 machine,
 * so the device tree's region is the last 2 MiB of it.
 *
 * <p>Invariants: the file is loaded, or refused with a {@link BootException} naming the kernel (the one-line
 * error, exit 2); nothing else is thrown (no IndexOutOfBounds, NegativeArraySize, OutOfMemory, no write
 * outside guest RAM). A loaded kernel sits {@code text_offset} (a multiple of 2 MiB) above the start of RAM,
 * its image_size ends at or below the device tree, the device tree's region lies in RAM, and guest RAM holds
 * the image's first bytes where the loader says it put them.
 */
class ImageLoaderFuzzTest {
    static final AddressRange RAM = new AddressRange(Riscv64Layout.RAM_BASE, 16 * Riscv64Layout.MIB);
    static final GuestMemory MEMORY = GuestMemory.allocate(List.of(RAM));
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
    void aRiscv64ImageIsLoadedInsideRamOrRefused(byte[] file) throws Exception {
        Files.write(KERNEL, file);
        ImageLoader.Placement p;
        try {
            p = ImageLoader.load(MEMORY, RAM, new BootImages(KERNEL, Optional.empty(), ""));
        } catch (BootException refused) {
            assertThat(refused.getMessage()).as("a refusal names the kernel").startsWith("kernel " + KERNEL);
            return;
        }
        assertThat(p.kernel() - RAM.base()).as("text_offset").isEqualTo(p.image().textOffset());
        assertThat(p.kernel() % RiscvImage.ALIGNMENT).as("load address alignment").isZero();
        assertThat(p.kernelEnd()).as("the kernel's end").isGreaterThan(p.kernel()).isLessThanOrEqualTo(p.fdt());
        assertThat(p.fdt() + ImageLoader.FDT_MAX).as("the device tree region's end").isLessThanOrEqualTo(RAM.end());
        assertThat(p.fdt() % ImageLoader.FDT_MAX).as("device tree alignment").isZero();
        boolean gzip = file.length >= 2 && (file[0] & 0xff) == 0x1f && (file[1] & 0xff) == 0x8b;
        if (!gzip) {
            byte[] loaded = new byte[Math.min(file.length, 256)];
            MEMORY.read(p.kernel(), loaded);
            assertThat(loaded).as("the image in RAM").isEqualTo(Arrays.copyOf(file, loaded.length));
        }
    }
}
