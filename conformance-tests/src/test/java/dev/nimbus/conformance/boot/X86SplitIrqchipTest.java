package dev.nimbus.conformance.boot;

import dev.nimbus.conformance.RequiresKvm;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Debian's x86-64 kernel on KVM's split irqchip ({@code --platform irqchip=split}): the local APICs in KVM, the
 * IOAPIC in the VMM ({@code dev.nimbus.devices.interrupt.ioapic.Ioapic}), no PIC and no PIT. This is the
 * interrupt path an MSHV host needs (it has no in-kernel IOAPIC), run where it can be: every platform device's
 * line is a pin of the userspace IOAPIC, each pin's redirection entry an MSI route at GSI = pin and a
 * {@code KVM_SIGNAL_MSI}, and the guest's EOI of a level-triggered vector a {@code KVM_EXIT_IOAPIC_EOI}.
 *
 * <p>The guest ({@code e2e-script}'s {@code irq} test) boots to init with 2 vCPUs and its root on virtio-blk,
 * reads its serial port's line in {@code /proc/interrupts}, writes 64 lines through the tty layer (the 8250
 * driver sends them on THR-empty interrupts), reads a line the test types (receive interrupts), and reads the
 * line again: it must be on the IO-APIC, pin 4, edge, and have counted up each time.
 */
@RequiresKvm
@EnabledIfSystemProperty(named = "os.arch", matches = "amd64|x86_64")
class X86SplitIrqchipTest {
    private static final long BOOT_LIMIT_MINUTES = 8;
    /**
     * Kernel log lines that mean the interrupt controllers Nimbus described or emulated are wrong: X86BootTest's,
     * and what Linux says when an IOAPIC line misbehaves (a stuck level interrupt, an unhandled one, the timer
     * check of a machine with a PIC).
     */
    private static final Pattern BAD_LOG_LINE = Pattern.compile(
            "ACPI Error|ACPI BIOS Error|APIC.*[Ee]rror|[Ee]rror.*APIC|\\bBUG\\b|WARNING:|[Cc]hecksum (error|mismatch)"
                    + "|[Ii]nvalid checksum|wrong checksum|nobody cared|MP-BIOS bug|timer doesn't work|IRQ.*lost|No irq handler"
                    + "|(?i:(virtio|pci|msi|vd[a-z]).*(error|fail|invalid|timed? ?out|bad\\b))");
    private static GuestImages images;

    @BeforeAll
    static void images() throws Exception {
        images = GuestImages.forArch("x86_64");
    }

    @Test
    void bootsToInitWithTwoVcpusOnTheUserspaceIoapicWithSerialInterruptsAndVirtioBlk(@TempDir Path dir) throws Exception {
        Path root = Files.copy(Path.of(images.get("rootfs")), dir.resolve("root.ext4"));
        List<String> args = List.of("--kernel", images.get("kernel.bzimage"), "--initramfs", images.get("initramfs.virtio"),
                "--cmdline", images.cmdline() + " nimbus.root=/dev/vda nimbus.test=irq",
                "--cpus", "boot=2", "--memory", "size=512M", "--serial", "tty", "--console", "off",
                "--disk", "path=" + root, "--platform", "irqchip=split", "-v");
        try (NimbusProcess nimbus = NimbusProcess.start(args.toArray(String[]::new))) {
            assertThat(nimbus.awaitLines("ASK-LINE"::equals, 1, BOOT_LIMIT_MINUTES, TimeUnit.MINUTES))
                    .as("the guest came to init and asked for a line; output:%n%s", nimbus.transcript()).isTrue();
            nimbus.type("typed-through-the-ioapic");
            int exit = nimbus.awaitExit(BOOT_LIMIT_MINUTES, TimeUnit.MINUTES);
            List<String> out = nimbus.output();
            String transcript = nimbus.transcript();
            assertThat(exit).as("nimbus exit code after the guest's poweroff; output:%n%s", transcript).isZero();
            assertThat(out).as("the VMM made the userspace IOAPIC; output:%n%s", transcript)
                    .anyMatch(l -> l.contains("interrupts: IOAPIC in the VMM at 0xfec00000") && l.contains("(split irqchip)"));
            assertThat(out).as(transcript).contains("NIMBUS-INITRAMFS-UP", "NIMBUS-E2E-UP", "E2E-TEST=irq", "NPROC=2",
                    "ROOT=/dev/vda ext4", "TYPED=typed-through-the-ioapic", "NIMBUS-GUEST-EXIT=0");

            String before = line(out, "SERIAL-INTR-BEFORE ", transcript);
            String afterWrites = line(out, "SERIAL-INTR-AFTER-WRITES ", transcript);
            String afterRead = line(out, "SERIAL-INTR-AFTER-READ ", transcript);
            for (String l : List.of(before, afterWrites, afterRead)) {
                assertThat(l).as("the serial port's interrupt is the IOAPIC's pin 4, edge-triggered; output:%n%s", transcript)
                        .containsPattern("IO-APIC\\s+4-edge\\s+ttyS0");
            }
            long n0 = E2eVirtio.interruptCount("INTR " + before);
            long n1 = E2eVirtio.interruptCount("INTR " + afterWrites);
            long n2 = E2eVirtio.interruptCount("INTR " + afterRead);
            assertThat(n1).as("transmit interrupts while the guest wrote 64 lines; output:%n%s", transcript).isGreaterThan(n0);
            assertThat(n2).as("receive interrupts for the typed line; output:%n%s", transcript).isGreaterThan(n1);

            List<String> virtio = out.stream().filter(l -> l.startsWith("INTR ") && l.contains("virtio")).toList();
            assertThat(virtio).as("the virtio-blk function's MSI-X vectors (GSIs above the IOAPIC's 24); output:%n%s", transcript)
                    .isNotEmpty().allMatch(l -> l.contains("PCI-MSI"));
            assertThat(virtio.stream().mapToLong(E2eVirtio::interruptCount).sum()).as("virtio interrupts that arrived").isPositive();

            List<String> log = E2eGuest.kernelLog(out);
            assertThat(log).as("kernel log").anyMatch(l -> l.contains("ACPI: RSDP")).anyMatch(l -> l.contains("[vda]"))
                    .as("Linux read the userspace IOAPIC's version and pin count from its registers")
                    .anyMatch(l -> l.contains("IOAPIC[0]: apic_id 2, version 17, address 0xfec00000, GSI 0-23"));
            assertThat(log).as("kernel log lines that point at a fault in the machine").noneMatch(l -> BAD_LOG_LINE.matcher(l).find());
        }
    }

    /** The one output line that starts with {@code prefix}, without it. */
    private static String line(List<String> out, String prefix, String transcript) {
        List<String> found = out.stream().filter(l -> l.startsWith(prefix)).toList();
        assertThat(found).as("one line starting '%s'; output:%n%s", prefix, transcript).hasSize(1);
        return found.getFirst().substring(prefix.length());
    }
}
