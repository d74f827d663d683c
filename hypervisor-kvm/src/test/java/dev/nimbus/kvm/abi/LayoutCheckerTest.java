package dev.nimbus.kvm.abi;

import dev.nimbus.testsupport.abi.HeaderProbe;
import dev.nimbus.testsupport.abi.LayoutChecker;
import org.junit.jupiter.api.Test;

import java.lang.foreign.StructLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.nimbus.host.CLayouts.U32;
import static dev.nimbus.host.CLayouts.U64;
import static dev.nimbus.host.CLayouts.field;
import static dev.nimbus.host.CLayouts.struct;
import static org.assertj.core.api.Assertions.assertThat;

/** The checker itself: it must notice a wrong layout, not just agree with everything. */
class LayoutCheckerTest {
    @Test
    void movedFieldOffsetIsReported() throws Exception {
        // kvm_userspace_memory_region with guest_phys_addr and memory_size swapped
        StructLayout wrong = struct("kvm_userspace_memory_region",
                field("slot", U32), field("flags", U32), field("memory_size", U64),
                field("guest_phys_addr", U64), field("userspace_addr", U64));
        KvmHeaders.X86_64.ensure();
        HeaderProbe.Answers answers = HeaderProbe.run(KvmHeaders.X86_64.program("linux/kvm.h"),
                LayoutChecker.probe(List.of(wrong)));

        assertThat(LayoutChecker.compare(List.of(wrong), answers)).containsExactlyInAnyOrder(
                "kvm_userspace_memory_region.memory_size: offset 8 in Java, 16 in the header",
                "kvm_userspace_memory_region.guest_phys_addr: offset 16 in Java, 8 in the header");
        assertThat(LayoutChecker.compare(List.of(KvmStructs.KVM_USERSPACE_MEMORY_REGION), answers)).isEmpty();
    }

    @Test
    void wrongStructSizeIsReported() throws Exception {
        StructLayout shortOne = struct("kvm_irqfd", field("fd", U32), field("gsi", U32), field("flags", U32),
                field("resamplefd", U32));
        HeaderProbe.Answers answers = HeaderProbe.run(KvmHeaders.X86_64.program("linux/kvm.h"),
                LayoutChecker.probe(List.of(shortOne)));

        assertThat(LayoutChecker.compare(List.of(shortOne), answers))
                .containsExactly("struct kvm_irqfd: size 16 in Java, 32 in the header");
    }

    @Test
    void wrongIoctlNumberIsReported() throws Exception {
        HeaderProbe.Answers answers = HeaderProbe.run(KvmHeaders.X86_64.program("linux/kvm.h"),
                HeaderProbe.constantProbe(List.of("KVM_RUN")));
        List<String> missing = new ArrayList<>();

        assertThat(LayoutChecker.compareConstants(Map.of("KVM_RUN", KvmIoctls.KVM_RUN + 1), answers, missing))
                .containsExactly(String.format("KVM_RUN: 0x%x in Java, 0x%x in the header", KvmIoctls.KVM_RUN + 1,
                        KvmIoctls.KVM_RUN));
    }
}
