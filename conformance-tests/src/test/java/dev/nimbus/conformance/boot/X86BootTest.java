package dev.nimbus.conformance.boot;

import dev.nimbus.conformance.RequiresKvm;
import dev.nimbus.conformance.distribution.Distribution;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Debian's own x86-64 kernel booted by Nimbus on KVM, end to end: the {@code nimbus} command line, the
 * Linux boot protocol (bzImage) and PVH (vmlinux), ACPI, the legacy devices and the vCPU loop.
 */
@RequiresKvm
@EnabledIfSystemProperty(named = "os.arch", matches = "amd64|x86_64")
class X86BootTest {
    private static final long BOOT_LIMIT_MINUTES = 8;
    /** Kernel log lines that mean something is wrong with what Nimbus gave the guest. */
    private static final Pattern BAD_LOG_LINE = Pattern.compile(
            "ACPI Error|ACPI BIOS Error|APIC.*[Ee]rror|[Ee]rror.*APIC|\\bBUG\\b|WARNING:|[Cc]hecksum (error|mismatch)|[Ii]nvalid checksum|wrong checksum");
    private static GuestImages images;

    @BeforeAll
    static void images() throws Exception {
        images = GuestImages.forArch("x86_64");
    }

    private static List<String> args(String kernel, String test, String... extra) {
        return E2eGuest.serialGuestArgs(images, kernel, test, extra);
    }

    /**
     * The bzImage boot also gives the machine an identity ({@code --platform}, as an orchestrator would): the
     * guest's Linux reads it from the SMBIOS tables into {@code /sys/class/dmi/id}, OEM strings included; and
     * fewer physical address bits than the host has ({@code max_phys_bits}), which its CPUID reports.
     */
    private static void bootsToUserSpaceWithTwoVcpus(String kernel) throws Exception {
        try (NimbusProcess nimbus = NimbusProcess.start(args(kernel, "facts", "--cpus", "boot=2,max_phys_bits=38", "--memory", "size=512M",
                "--platform", "serial_number=NIMBUS-SN-42,uuid=" + MACHINE_UUID + ",oem_strings=[io.nimbus.test=smbios,second-oem-string],"
                        + "system_family=e2e").toArray(String[]::new))) {
            checkFactsBoot(nimbus);
            assertThat(nimbus.output()).as(nimbus.transcript()).contains("DMI sys_vendor=Nimbus", "DMI product_name=nimbus",
                    "DMI product_serial=NIMBUS-SN-42", "DMI product_uuid=" + MACHINE_UUID, "DMI product_family=e2e",
                    "DMI-STRING io.nimbus.test=smbios", "DMI-STRING second-oem-string");
            assertThat(nimbus.output()).as("max_phys_bits=38 in the guest's CPUID; output:%n%s", nimbus.transcript())
                    .anyMatch(l -> l.startsWith("ADDRESS-SIZES=38 bits physical"));
        }
    }

    private static final String MACHINE_UUID = "6e696d62-7573-4000-8000-00000000002a";

    /** Waits for the facts test's poweroff and checks what the guest reported. */
    private static void checkFactsBoot(NimbusProcess nimbus) throws Exception {
        List<String> log = E2eGuest.kernelLog(E2eGuest.factsOfTwoVcpus(nimbus, BOOT_LIMIT_MINUTES, BAD_LOG_LINE));
        assertThat(log).as("kernel log").anyMatch(l -> l.contains("ACPI: RSDP"));
    }

    @Test
    void bzImageBootsToUserSpaceWithTwoVcpusAndACleanLog() throws Exception {
        bootsToUserSpaceWithTwoVcpus(images.get("kernel.bzimage"));
    }

    /**
     * The PVH boot runs the VMM as user {@code nobody} in group kvm, without root or capabilities: all a VM
     * without a tap needs is {@code /dev/kvm} and its files (copied here, world-readable).
     */
    @Test
    void pvhVmlinuxBootsToUserSpaceWithTwoVcpusAndACleanLogAsAnUnprivilegedUser(@TempDir Path dir) throws Exception {
        NimbusProcess.worldReadable(dir);
        Path kernel = NimbusProcess.worldReadable(Files.copy(Path.of(images.get("kernel.vmlinux")), dir.resolve("vmlinux")));
        Path initramfs = NimbusProcess.worldReadable(Files.copy(Path.of(images.get("initramfs")), dir.resolve("initramfs.cpio.gz")));
        List<String> a = new ArrayList<>(List.of("--kernel", kernel.toString(), "--initramfs", initramfs.toString(),
                "--cmdline", images.cmdline() + " nimbus.test=facts", "--serial", "tty", "--console", "off",
                "--cpus", "boot=2", "--memory", "size=512M"));
        try (NimbusProcess nimbus = NimbusProcess.startUnprivileged(dir, a.toArray(String[]::new))) {
            assertThat(nimbus.awaitLines(l -> !l.isBlank(), 1, BOOT_LIMIT_MINUTES, TimeUnit.MINUTES)).as(nimbus.transcript()).isTrue();
            assertThat(nimbus.uid()).as("the VMM's user while the guest runs; output:%n%s", nimbus.transcript())
                    .isEqualTo(NimbusProcess.UNPRIVILEGED_UID);
            checkFactsBoot(nimbus);
            assertThat(nimbus.output()).as("a machine given no identity is a Nimbus machine; output:%n%s", nimbus.transcript())
                    .contains("DMI sys_vendor=Nimbus", "DMI product_name=nimbus").noneMatch(l -> l.startsWith("DMI product_uuid=6e"));
        }
    }

    /**
     * The reboot runs under {@code --landlock}: the VMM restricts its own file access once the first machine is
     * built, and builds the second from the files the configuration names, which the rules still allow.
     */
    @Test
    void guestRebootBuildsTheMachineAgainOnceUnderLandlock() throws Exception {
        try (NimbusProcess nimbus = NimbusProcess.start(args(images.get("kernel.vmlinux"), "reboot", "--landlock", "-v")
                .toArray(String[]::new))) {
            E2eGuest.rebootsOnceThenPowersOff(nimbus, BOOT_LIMIT_MINUTES);
            assertThat(nimbus.output()).as(nimbus.transcript()).anyMatch(l -> l.contains("landlock: enforced (ABI "));
        }
    }

    /**
     * {@code --memory hugepages=on,prefault=on} on a host with huge pages reserved (the test reserves them in
     * L1 through {@code vm.nr_hugepages}, and gives back what it took): the guest boots, and while it runs the
     * VMM's guest RAM is hugetlb memory in 2 MiB pages ({@code ht} in its smaps), every page of it resident
     * at once (prefault), which the host's hugetlb counters show taken.
     */
    @Test
    void guestRamOnReservedHugePagesIsHugetlbMemoryAllResident() throws Exception {
        long pages = (256L << 20) / (2L << 20);
        Path knob = Path.of("/proc/sys/vm/nr_hugepages");
        String before = Files.readString(knob).trim();
        Files.writeString(knob, Long.toString(Long.parseLong(before) + pages));
        try {
            long free = E2eGuest.meminfo("HugePages_Free");
            assertThat(free).as("huge pages the host could reserve for the test (vm.nr_hugepages)").isGreaterThanOrEqualTo(pages);
            try (NimbusProcess nimbus = NimbusProcess.start(args(images.get("kernel.vmlinux"), "reboot", "--memory",
                    "size=256M,hugepages=on,prefault=on").toArray(String[]::new))) {
                assertThat(nimbus.awaitLines("ASK-REBOOT"::equals, 1, BOOT_LIMIT_MINUTES, TimeUnit.MINUTES)).as(nimbus.transcript()).isTrue();
                long hugetlbKib = 0;
                for (List<String> mapping : E2eGuest.smaps(nimbus.pid())) {
                    if (E2eGuest.smapsField(mapping, "VmFlags").contains(" ht")) {
                        assertThat(E2eGuest.smapsField(mapping, "KernelPageSize")).as(mapping.getFirst()).contains("2048 kB");
                        hugetlbKib += E2eGuest.smapsKib(mapping, "Private_Hugetlb") + E2eGuest.smapsKib(mapping, "Shared_Hugetlb");
                    }
                }
                assertThat(hugetlbKib).as("the VMM's resident hugetlb memory while the guest runs").isEqualTo(256L << 10);
                assertThat(free - E2eGuest.meminfo("HugePages_Free")).as("huge pages the guest's RAM took from the host's pool")
                        .isEqualTo(pages);
                nimbus.type("off");
                assertThat(nimbus.awaitExit(BOOT_LIMIT_MINUTES, TimeUnit.MINUTES)).as(nimbus.transcript()).isZero();
            }
        } finally {
            Files.writeString(knob, before);
        }
    }

    @Test
    void theTarballBootsTheDemoGuestWithNoJavaAndAnEmptyEnvironment(@TempDir Path dir) throws Exception {
        Path home = Distribution.unpack(dir);
        E2eGuest.demoGuest(args -> NimbusProcess.startFromDistribution(home, args), images, "kernel.bzimage", BOOT_LIMIT_MINUTES, BAD_LOG_LINE);
    }

    @Test
    void aFileThatIsNotAKernelIsBadInput(@TempDir Path dir) throws Exception {
        Path notKernel = Files.writeString(dir.resolve("notes.txt"), "this is not a kernel\n".repeat(100));
        try (NimbusProcess nimbus = NimbusProcess.start("--kernel", notKernel.toString(), "--console", "off")) {
            assertThat(E2eGuest.refusedInOneLine(nimbus)).contains(notKernel.toString());
        }
    }

    @Test
    void anInitramfsThatDoesNotFitInRamIsBadInput(@TempDir Path dir) throws Exception {
        Path huge = dir.resolve("huge.cpio");
        try (RandomAccessFile f = new RandomAccessFile(huge.toFile(), "rw")) {
            f.setLength(600L << 20); // sparse: larger than the guest's 512 MiB
        }
        try (NimbusProcess nimbus = NimbusProcess.start("--kernel", images.get("kernel.bzimage"), "--initramfs", huge.toString(),
                "--memory", "size=512M", "--console", "off")) {
            assertThat(E2eGuest.refusedInOneLine(nimbus)).contains("initramfs");
        }
    }

    @Test
    void moreVcpusThanTheHostAllowsIsBadInput() throws Exception {
        try (NimbusProcess nimbus = NimbusProcess.start("--kernel", images.get("kernel.bzimage"), "--cpus", "boot=255", "--console", "off")) {
            assertThat(E2eGuest.refusedInOneLine(nimbus)).startsWith("nimbus: --cpus boot: 255 is more than this host supports");
        }
    }
}
