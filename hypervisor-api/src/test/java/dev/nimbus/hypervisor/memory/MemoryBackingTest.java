package dev.nimbus.hypervisor.memory;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Each memory option by its effect on the real mapping, as the kernel reports it in /proc/self/smaps: what
 * backs it (a memfd, shared), how much of it is resident, its VmFlags ({@code hg} asked for transparent huge
 * pages, {@code nh} refused them, {@code mg} offered to KSM, {@code sh} shared, {@code ht} hugetlb). Tagged
 * {@code host-kernel}: the cross-architecture runs under QEMU user mode leave it out, since there smaps and
 * madvise are QEMU's emulation rather than the kernel's (on an arm64 or riscv64 host it runs as here).
 */
@org.junit.jupiter.api.Tag("host-kernel")
class MemoryBackingTest {
    private static final long SIZE = 8L << 20;

    /** The smaps entry of the mapping at {@code address}: its header line and fields. */
    private static List<String> smaps(long address) throws IOException {
        List<String> lines = Files.readAllLines(Path.of("/proc/self/smaps"));
        List<String> entry = new ArrayList<>();
        for (String line : lines) {
            boolean header = line.matches("^[0-9a-f]+-[0-9a-f]+ .*");
            if (header) {
                if (!entry.isEmpty()) {
                    return entry;
                }
                long start = Long.parseUnsignedLong(line.substring(0, line.indexOf('-')), 16);
                if (start == address) {
                    entry.add(line);
                }
            } else if (!entry.isEmpty()) {
                entry.add(line);
            }
        }
        return entry;
    }

    private static String field(List<String> smaps, String name) {
        return smaps.stream().filter(l -> l.startsWith(name + ":")).findFirst().orElse(name + ": (none)");
    }

    private static long kib(List<String> smaps, String name) {
        return Long.parseLong(field(smaps, name).replaceAll("[^0-9]", ""));
    }

    private static GuestMemory allocate(MemoryBacking backing) {
        return GuestMemory.allocate(List.of(new AddressRange(0, SIZE)), backing);
    }

    @Test
    void byDefaultPrivateAnonymousUntouchedAndAskingForTransparentHugePages() throws Exception {
        try (GuestMemory m = allocate(MemoryBacking.DEFAULT)) {
            List<String> s = smaps(m.regions().getFirst().host().address());
            assertThat(s).as("the mapping is in smaps").isNotEmpty();
            assertThat(s.getFirst()).doesNotContain("memfd");
            assertThat(field(s, "VmFlags")).contains(" hg").doesNotContain(" sh");
            assertThat(kib(s, "Rss")).as("nothing resident before the guest touches it").isLessThan(SIZE >> 10);
        }
    }

    @Test
    void thpOffRefusesTransparentHugePages() throws Exception {
        try (GuestMemory m = allocate(new MemoryBacking(false, false, 0, false, false, false))) {
            assertThat(field(smaps(m.regions().getFirst().host().address()), "VmFlags")).contains(" nh").doesNotContain(" hg");
        }
    }

    @Test
    void sharedIsAMemfdMappedShared() throws Exception {
        try (GuestMemory m = allocate(new MemoryBacking(true, false, 0, false, true, false))) {
            List<String> s = smaps(m.regions().getFirst().host().address());
            assertThat(s.getFirst()).contains("/memfd:nimbus-guest-ram");
            assertThat(field(s, "VmFlags")).contains(" sh");
            m.writeLong(0x1000, 0x1122334455667788L);
            assertThat(m.readLong(0x1000)).isEqualTo(0x1122334455667788L);
        }
    }

    @Test
    void prefaultMakesEveryPageResidentAtOnce() throws Exception {
        try (GuestMemory m = allocate(new MemoryBacking(false, false, 0, true, false, false))) {
            assertThat(kib(smaps(m.regions().getFirst().host().address()), "Rss")).isEqualTo(SIZE >> 10);
        }
    }

    @Test
    void mergeableOffersThePagesToKsmWhereTheKernelHasIt() throws Exception {
        if (Files.isDirectory(Path.of("/sys/kernel/mm/ksm"))) {
            try (GuestMemory m = allocate(new MemoryBacking(false, false, 0, false, true, true))) {
                assertThat(field(smaps(m.regions().getFirst().host().address()), "VmFlags")).contains(" mg");
            }
        } else {
            assertThatThrownBy(() -> allocate(new MemoryBacking(false, false, 0, false, true, true)))
                    .isInstanceOf(MemoryBacking.Unavailable.class).extracting(e -> ((MemoryBacking.Unavailable) e).option())
                    .isEqualTo("mergeable");
        }
    }

    @Test
    void hugepagesAreHugetlbPagesOrARefusalNamingTheOption() throws Exception {
        long reserved = Files.readAllLines(Path.of("/proc/meminfo")).stream().filter(l -> l.startsWith("HugePages_Free:"))
                .mapToLong(l -> Long.parseLong(l.replaceAll("[^0-9]", ""))).findFirst().orElse(0);
        if (reserved >= SIZE / (2 << 20)) {
            try (GuestMemory m = allocate(new MemoryBacking(false, true, 2 << 20, false, true, false))) {
                List<String> s = smaps(m.regions().getFirst().host().address());
                assertThat(field(s, "KernelPageSize")).contains("2048 kB");
                assertThat(field(s, "VmFlags")).contains(" ht");
            }
        } else {
            // none reserved (HugePages_Free too low): the option is named, nothing else goes wrong
            assertThatThrownBy(() -> allocate(new MemoryBacking(false, true, 2 << 20, false, true, false)))
                    .isInstanceOf(MemoryBacking.Unavailable.class).extracting(e -> ((MemoryBacking.Unavailable) e).option())
                    .isEqualTo("hugepages");
        }
    }
}
