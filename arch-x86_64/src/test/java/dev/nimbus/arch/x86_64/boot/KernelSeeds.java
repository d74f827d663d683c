package dev.nimbus.arch.x86_64.boot;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes the seed inputs of {@link KernelLoaderFuzzTest} from the hand-made kernels of
 * {@link SyntheticKernels}. Run from the module directory:
 * {@code java -cp <test classpath> dev.nimbus.arch.x86_64.boot.KernelSeeds}.
 */
public final class KernelSeeds {
    private KernelSeeds() {}

    public static void main(String[] args) throws IOException {
        Path inputs = Path.of("src/test/resources/dev/nimbus/arch/x86_64/boot/KernelLoaderFuzzTestInputs");
        Path bz = Files.createDirectories(inputs.resolve("aBzImageIsLoadedInsideRamOrRefused"));
        Files.write(bz.resolve("synthetic-bzimage"), SyntheticKernels.bzImage());
        // the same kernel asking to go higher than RAM reaches: loaded as low as it may go instead
        Files.write(bz.resolve("synthetic-bzimage-pref-address-high"),
                SyntheticKernels.bzImage(b -> b.putLong(BzImage.PREF_ADDRESS, 0x4000_0000L)));
        Path pvh = Files.createDirectories(inputs.resolve("aPvhKernelIsLoadedInsideRamOrRefused"));
        Files.write(pvh.resolve("synthetic-vmlinux"), SyntheticKernels.elf());
    }
}
