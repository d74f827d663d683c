package dev.nimbus.conformance.backend;

import dev.nimbus.arch.aarch64.boot.Registers;
import dev.nimbus.hypervisor.Arch;
import dev.nimbus.hypervisor.IrqChip;
import dev.nimbus.hypervisor.IrqChipConfig;
import dev.nimbus.hypervisor.Vcpu;
import dev.nimbus.hypervisor.VcpuExit;
import dev.nimbus.hypervisor.aarch64.Aarch64Vcpu;
import dev.nimbus.hypervisor.state.StateException;
import dev.nimbus.hypervisor.state.StateRecord;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

import static dev.nimbus.conformance.backend.GuestCode.Layout.CODE;
import static dev.nimbus.conformance.backend.GuestCode.Layout.MMIO;
import static dev.nimbus.conformance.backend.GuestCode.Layout.RAM;
import static dev.nimbus.conformance.backend.GuestCode.Layout.RAM_SIZE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * AArch64 snapshot and restore through the SPI ({@link Vcpu#saveState}, {@link IrqChip#saveState} and their
 * restores), once per backend ({@link ConformanceKit}): a guest stopped at an MMIO write is saved, a second VM
 * is made over a copy of its memory, the state is restored in the SPI's order (vCPU after {@code init}, the
 * controller after {@code finishSetup} and after the vCPUs), and the guest goes on from where it was.
 */
@ConformanceKit
class Aarch64SnapshotConformanceTest {
    /** The two counters, whose saved values restore turns into offsets: they read differently afterwards. */
    private static final long TIMER_CNT = Registers.sysreg(3, 3, 14, 3, 2);
    private static final long PTIMER_CNT = Registers.sysreg(3, 3, 14, 0, 1);

    private final KitBackend backend;

    Aarch64SnapshotConformanceTest(KitBackend backend) {
        this.backend = backend;
    }

    @BeforeEach
    void onlyOnAarch64() {
        assumeTrue(Arch.host() == Arch.AARCH64, "AArch64 vCPU and GICv3 state");
    }

    private static IrqChipConfig.GicV3 gicConfig() {
        return new IrqChipConfig.GicV3(Aarch64GuestCode.GICD, Aarch64GuestCode.GICR,
                OptionalLong.of(Aarch64GuestCode.ITS), 64);
    }

    private static <T> T as(VcpuExit exit, Class<T> type) {
        assertThat(exit).isInstanceOf(type);
        return type.cast(exit);
    }

    private static void copyRam(TestMachine from, TestMachine to) throws Exception {
        byte[] ram = new byte[(int) RAM_SIZE];
        from.ram.read(RAM, ram);
        to.ram.write(RAM, ram);
    }

    /** A saved machine: the vCPU's records and the controller's. */
    private record Saved(List<StateRecord> vcpu, List<StateRecord> gic) {}

    /** Runs {@code program} to its MMIO write at +0x78 and saves vCPU 0 and the GIC there (vCPU first). */
    private Saved runToPauseAndSave(TestMachine m, byte[] program, long pauseValue) throws Exception {
        IrqChip gic = m.vm.createIrqChip(gicConfig());
        m.load(CODE, program);
        m.load(Aarch64GuestCode.VECTORS + 0x280, ((Aarch64GuestCode) m.code).gicIrqHandler());
        Vcpu vcpu = m.vcpu(0, CODE);
        gic.finishSetup();
        VcpuExit.MmioWrite pause = as(m.run(vcpu), VcpuExit.MmioWrite.class);
        assertThat(pause.address()).isEqualTo(MMIO + 0x78);
        assertThat(pause.value()).isEqualTo(pauseValue);
        List<StateRecord> vcpuState = vcpu.saveState();
        return new Saved(vcpuState, gic.saveState());
    }

    /** A second VM over a copy of {@code from}'s RAM, with the GIC and vCPU 0 made as a boot makes them. */
    private record Restored(TestMachine machine, IrqChip gic, Vcpu vcpu) {}

    private Restored freshMachine(TestMachine from) throws Exception {
        TestMachine m = new TestMachine(backend);
        copyRam(from, m);
        IrqChip gic = m.vm.createIrqChip(gicConfig());
        Vcpu vcpu = m.vm.createVcpu(0);
        vcpu.as(Aarch64Vcpu.class).init(false);
        gic.finishSetup();
        return new Restored(m, gic, vcpu);
    }

    @Test
    void registersRoundTripIntoANewVmAndTheProgramContinuesWithThem() throws Exception {
        try (TestMachine first = new TestMachine(backend)) {
            Saved saved = runToPauseAndSave(first, ((Aarch64GuestCode) first.code).registersAcrossAnExit(), 0x56781234);
            Restored r = freshMachine(first);
            try (TestMachine second = r.machine) {
                r.vcpu.restoreState(saved.vcpu);
                r.gic.restoreState(saved.gic);

                Aarch64Vcpu cpu = r.vcpu.as(Aarch64Vcpu.class);
                assertThat(cpu.getOneReg(Registers.x(5))).isEqualTo(0x56781234L);
                assertThat(cpu.getOneReg(Registers.x(6))).isEqualTo(0x9abcL);
                assertThat(cpu.getOneReg(Registers.PC)).as("past the store the snapshot was taken at")
                        .isEqualTo(CODE + 9 * 4);
                byte[] v1 = new byte[16];
                cpu.getOneReg(Aarch64GuestCode.regV(1), v1);
                assertThat(ByteBuffer.wrap(v1).order(ByteOrder.LITTLE_ENDIAN).getLong()).isEqualTo(0x56781234L);
                Map<Long, byte[]> before = registers(saved.vcpu);
                Map<Long, byte[]> after = registers(r.vcpu.saveState());
                before.keySet().removeAll(List.of(TIMER_CNT, PTIMER_CNT));
                for (Map.Entry<Long, byte[]> e : before.entrySet()) {
                    assertThat(after.get(e.getKey())).as("register 0x%x", e.getKey()).isEqualTo(e.getValue());
                }

                VcpuExit.MmioWrite next = as(second.run(r.vcpu), VcpuExit.MmioWrite.class);
                assertThat(next.address()).isEqualTo(MMIO + 0x7c);
                assertThat(next.value()).as("x6, as restored").isEqualTo(0x9abc);
                assertThat(second.code.isStop(second.run(r.vcpu))).isTrue();
            }
        }
    }

    @Test
    void gicStateRoundTripsAndTheRestoredGuestTakesItsInterrupt() throws Exception {
        try (TestMachine first = new TestMachine(backend)) {
            Saved saved = runToPauseAndSave(first, ((Aarch64GuestCode) first.code).gicSetUpPauseThenWait(), 0);
            assertThat(saved.gic).extracting(StateRecord::id).contains("kvm-arm64-vgic", "kvm-arm64-vgic-its");
            Restored r = freshMachine(first);
            try (TestMachine second = r.machine) {
                r.vcpu.restoreState(saved.vcpu);
                r.gic.restoreState(saved.gic);

                List<String> differences = gicDifferences(saved.gic, r.gic.saveState());
                // the guest enabled SPI 5 (INTID 37), its priority, route and group, and its CPU interface,
                // all before the snapshot: only the restored state lets the interrupt through
                r.gic.setIrqLine(5, true);
                VcpuExit.MmioWrite w = as(second.run(r.vcpu), VcpuExit.MmioWrite.class);
                assertThat(w.address()).isEqualTo(MMIO + 0x70);
                assertThat(w.value()).as("the INTID the restored guest acknowledged").isEqualTo(37);
                assertThat(differences).as("the GIC read back after the restore").isEmpty();
            }
        }
    }

    @Test
    void aRegisterTheVcpuLacksIsRefusedByItsId() throws Exception {
        long foreign = Registers.sysreg(3, 7, 15, 15, 7);  // IMPLEMENTATION DEFINED space KVM does not list
        try (TestMachine first = new TestMachine(backend)) {
            Saved saved = runToPauseAndSave(first, ((Aarch64GuestCode) first.code).registersAcrossAnExit(), 0x56781234);
            Map<Long, byte[]> regs = registers(saved.vcpu);
            assertThat(regs).doesNotContainKey(foreign);
            regs.put(foreign, new byte[8]);
            List<StateRecord> changed = replace(saved.vcpu, encode(regs));
            Restored r = freshMachine(first);
            try (TestMachine second = r.machine) {
                assertThatThrownBy(() -> r.vcpu.restoreState(changed)).isInstanceOf(StateException.class)
                        .hasMessageContaining("kvm-arm64-regs").hasMessageContaining(Long.toHexString(foreign));
            }
        }
    }

    @Test
    void truncatedRecordsAreRefused() throws Exception {
        try (TestMachine first = new TestMachine(backend)) {
            Saved saved = runToPauseAndSave(first, ((Aarch64GuestCode) first.code).registersAcrossAnExit(), 0x56781234);
            Restored r = freshMachine(first);
            try (TestMachine second = r.machine) {
                List<StateRecord> shortRegs = truncate(saved.vcpu, "kvm-arm64-regs", 3);
                assertThatThrownBy(() -> r.vcpu.restoreState(shortRegs)).isInstanceOf(StateException.class)
                        .hasMessageContaining("kvm-arm64-regs").hasMessageContaining("truncated");
                List<StateRecord> shortGic = truncate(saved.gic, "kvm-arm64-vgic", 7);
                assertThatThrownBy(() -> r.gic.restoreState(shortGic)).isInstanceOf(StateException.class)
                        .hasMessageContaining("kvm-arm64-vgic").hasMessageContaining("truncated");
                List<StateRecord> noMp = saved.vcpu.stream().filter(s -> !s.id().equals("kvm-arm64-mp-state")).toList();
                assertThatThrownBy(() -> r.vcpu.restoreState(noMp)).isInstanceOf(StateException.class)
                        .hasMessageContaining("kvm-arm64-mp-state");
            }
        }
    }

    /**
     * The entries of the kvm-arm64-vgic record (GicV3State's javadoc: interrupts, vCPUs, then group, attr and
     * value per entry) and the kvm-arm64-vgic-its record (offset and value) that differ, in words.
     */
    private static List<String> gicDifferences(List<StateRecord> before, List<StateRecord> after) {
        List<String> out = new ArrayList<>();
        ByteBuffer a = ByteBuffer.wrap(StateRecord.find(before, "kvm-arm64-vgic", 1).data()).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer b = ByteBuffer.wrap(StateRecord.find(after, "kvm-arm64-vgic", 1).data()).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(b.remaining()).isEqualTo(a.remaining());
        a.getInt();
        b.getInt();
        int cpus = a.getInt();
        b.getInt();
        a.position(a.position() + 8 * cpus);
        b.position(b.position() + 8 * cpus);
        int n = a.getInt();
        b.getInt();
        for (int i = 0; i < n; i++) {
            int group = a.getInt();
            long attr = a.getLong();
            long va = a.getLong();
            b.getInt();
            b.getLong();
            long vb = b.getLong();
            if (va != vb) {
                out.add(String.format("group %d attr 0x%x: 0x%x saved, 0x%x restored", group, attr, va, vb));
            }
        }
        ByteBuffer ia = ByteBuffer.wrap(StateRecord.find(before, "kvm-arm64-vgic-its", 1).data()).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer ib = ByteBuffer.wrap(StateRecord.find(after, "kvm-arm64-vgic-its", 1).data()).order(ByteOrder.LITTLE_ENDIAN);
        int m = ia.getInt();
        ib.getInt();
        for (int i = 0; i < m; i++) {
            long off = ia.getLong();
            long va = ia.getLong();
            ib.getLong();
            long vb = ib.getLong();
            if (va != vb) {
                out.add(String.format("ITS 0x%x: 0x%x saved, 0x%x restored", off, va, vb));
            }
        }
        return out;
    }

    // the kvm-arm64-regs format (KvmOneRegVcpu's javadoc): count, then id and value per register

    private static Map<Long, byte[]> registers(List<StateRecord> records) {
        StateRecord regs = StateRecord.find(records, "kvm-arm64-regs", 1);
        ByteBuffer b = ByteBuffer.wrap(regs.data()).order(ByteOrder.LITTLE_ENDIAN);
        Map<Long, byte[]> out = new LinkedHashMap<>();
        int n = b.getInt();
        for (int i = 0; i < n; i++) {
            long id = b.getLong();
            byte[] value = new byte[1 << (int) ((id >>> 52) & 0xf)];
            b.get(value);
            out.put(id, value);
        }
        assertThat(b.hasRemaining()).isFalse();
        return out;
    }

    private static byte[] encode(Map<Long, byte[]> regs) {
        int size = 4 + regs.values().stream().mapToInt(v -> 8 + v.length).sum();
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN).putInt(regs.size());
        regs.forEach((id, v) -> b.putLong(id).put(v));
        return b.array();
    }

    private static List<StateRecord> replace(List<StateRecord> records, byte[] regs) {
        List<StateRecord> out = new ArrayList<>();
        for (StateRecord s : records) {
            out.add(s.id().equals("kvm-arm64-regs") ? new StateRecord(s.id(), s.version(), regs) : s);
        }
        return out;
    }

    private static List<StateRecord> truncate(List<StateRecord> records, String id, int bytes) {
        List<StateRecord> out = new ArrayList<>();
        for (StateRecord s : records) {
            byte[] d = s.data();
            out.add(s.id().equals(id) ? new StateRecord(id, s.version(), Arrays.copyOf(d, d.length - bytes)) : s);
        }
        return out;
    }
}
