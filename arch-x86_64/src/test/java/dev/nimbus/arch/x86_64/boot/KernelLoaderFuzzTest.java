package dev.nimbus.arch.x86_64.boot;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.nimbus.arch.x86_64.Machines;
import dev.nimbus.arch.x86_64.X86Layout;
import dev.nimbus.arch.x86_64.acpi.AcpiTables;
import dev.nimbus.hypervisor.arch.BootException;
import dev.nimbus.hypervisor.arch.BootImages;
import dev.nimbus.hypervisor.arch.MachineDescription;
import dev.nimbus.hypervisor.arch.PlatformDevice;
import dev.nimbus.hypervisor.memory.GuestMemory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fuzz targets for the x86-64 kernel loader fed an arbitrary file as {@code --kernel}: seeded with a valid
 * bzImage (setup header, 64-bit entry, relocatable) and a valid ELF vmlinux with a PVH note, which the
 * fuzzer mutates. The machine has 32 MiB of RAM, so a header that asks for more is refused.
 *
 * <p>Invariants: the file is loaded, or refused with a {@link BootException} naming the kernel (the
 * one-line error, exit 2); nothing else is thrown: no IndexOutOfBounds, NegativeArraySize, OutOfMemory,
 * and no write outside guest RAM (guest memory refuses one, which the loader turns into an
 * IllegalStateException). A loaded kernel's entry point lies in RAM between 1 MiB and the end of low RAM,
 * inside the kernel it loaded.
 */
class KernelLoaderFuzzTest {
    static final MachineDescription MACHINE = Machines.machine(32 * X86Layout.MIB, 1);
    static final GuestMemory MEMORY = Machines.memory(MACHINE);
    static final long LOW_END = X86Layout.lowRamEnd(MACHINE.layout());
    /** The machine's ACPI tables, made once (X86_64Platform.loadKernel makes them on every call). */
    static final List<AcpiTables.Placed> ACPI = AcpiTables.build(MACHINE.vcpus(), MACHINE.devices(),
            MACHINE.devices().stream().filter(PlatformDevice.PciHost.class::isInstance).map(PlatformDevice.PciHost.class::cast).findFirst()
                    .map(h -> new AcpiTables.Pci(h.ecam(), h.lastBus(), MACHINE.layout().mmio32(), MACHINE.layout().mmio64())),
            X86Layout.ACPI_START, X86Layout.ACPI_END);
    static final Path KERNEL;

    static {
        try {
            KERNEL = Files.createTempFile("nimbus-fuzz", ".kernel");
            KERNEL.toFile().deleteOnExit();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @FuzzTest(maxDuration = "30s")
    void aBzImageIsLoadedInsideRamOrRefused(byte[] file) throws Exception {
        loadOrRefuse(file);
    }

    @FuzzTest(maxDuration = "30s")
    void aPvhKernelIsLoadedInsideRamOrRefused(byte[] file) throws Exception {
        loadOrRefuse(file);
    }

    static void loadOrRefuse(byte[] file) throws IOException, BootException {
        Files.write(KERNEL, file);
        X86BootPlan plan;
        try {
            plan = KernelLoader.load(MEMORY, new BootImages(KERNEL, Optional.empty(), "console=ttyS0"), MACHINE, ACPI);
        } catch (BootException refused) {
            assertThat(refused.getMessage()).as("a refusal names the kernel").startsWith("kernel " + KERNEL);
            return;
        }
        assertThat(plan.entryPoint()).as("entry point").isBetween(X86Layout.HIGH_RAM_START, LOW_END - 1);
        assertThat(MEMORY.contains(plan.bootInfo(), 1)).as("boot information in RAM").isTrue();
        if (plan.mode() == X86BootPlan.Mode.LINUX_64) {
            BzImage image = BzImage.parse(KERNEL.toString(), file, file.length);
            long load = plan.entryPoint() - BzImage.ENTRY_64_OFFSET;
            assertThat(load + image.initSize()).as("the kernel's end (init_size from 0x%x)", load).isLessThanOrEqualTo(LOW_END);
            assertThat(load % image.kernelAlignment()).as("load address alignment").isZero();
        }
    }
}
