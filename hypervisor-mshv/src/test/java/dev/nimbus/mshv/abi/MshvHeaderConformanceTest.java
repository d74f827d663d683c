package dev.nimbus.mshv.abi;

import dev.nimbus.testsupport.abi.HeaderProbe;
import dev.nimbus.testsupport.abi.HeaderProbe.BitField;
import dev.nimbus.testsupport.abi.LayoutChecker;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.StructLayout;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.nimbus.mshv.abi.HvStructs.*;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every ioctl number, struct layout and constant of the MSHV backend, compared with the headers by compiling
 * a probe program with gcc: Linux's uapi {@code <linux/mshv.h>} and the hypervisor's
 * {@code include/hyperv/hv*.h}, from Debian's packages (see {@link MshvHeaders}; fetched by the project's
 * script on first use, so this runs on a fresh machine and never skips). What those headers lack is listed
 * in the ABI classes ({@code NOT_IN_LINUX_HEADERS}, {@link HvRegisterName#inLinuxHeaders}) and only checked
 * for consistency here.
 */
class MshvHeaderConformanceTest {
    private static HeaderProbe.Answers answers;

    /** The bit-fields the backend reads or writes, from the constants it uses, in C's names. */
    static List<BitField> bitFields() {
        String hdr = "hv_x64_intercept_message_header";
        String mem = "hv_x64_memory_intercept_message";
        String seg = "hv_x64_segment_register";
        List<BitField> b = new ArrayList<>();
        b.add(new BitField(hdr, "instruction_length", INTERCEPT_INSTRUCTION_LENGTH, 0, Integer.bitCount(INSTRUCTION_LENGTH_MASK)));
        b.add(new BitField(hdr, "execution_state.cpl", INTERCEPT_EXECUTION_STATE, 0, Integer.bitCount(EXECUTION_STATE_CPL_MASK)));
        b.add(bit(hdr, "execution_state.cr0_pe", INTERCEPT_EXECUTION_STATE, EXECUTION_STATE_CR0_PE_BIT));
        b.add(bit(hdr, "execution_state.efer_lma", INTERCEPT_EXECUTION_STATE, EXECUTION_STATE_EFER_LMA_BIT));
        b.add(bit(mem, "memory_access_info.gva_valid", MEMORY_ACCESS_INFO, MEMORY_ACCESS_GVA_VALID_BIT));
        b.add(new BitField(seg, "segment_type", SEGMENT_ATTRIBUTES, 0, Integer.bitCount(SEGMENT_TYPE_MASK)));
        b.add(bit(seg, "non_system_segment", SEGMENT_ATTRIBUTES, SEGMENT_S_BIT));
        b.add(new BitField(seg, "descriptor_privilege_level", SEGMENT_ATTRIBUTES, SEGMENT_DPL_SHIFT, 2));
        b.add(bit(seg, "present", SEGMENT_ATTRIBUTES, SEGMENT_P_BIT));
        b.add(bit(seg, "available", SEGMENT_ATTRIBUTES, SEGMENT_AVL_BIT));
        b.add(bit(seg, "_long", SEGMENT_ATTRIBUTES, SEGMENT_L_BIT));
        b.add(bit(seg, "_default", SEGMENT_ATTRIBUTES, SEGMENT_DB_BIT));
        b.add(bit(seg, "granularity", SEGMENT_ATTRIBUTES, SEGMENT_G_BIT));
        b.add(bit("hv_input_assert_virtual_interrupt", "control.level_triggered", ASSERT_INTERRUPT_CONTROL,
                INTERRUPT_CONTROL_LEVEL_TRIGGERED_BIT));
        b.add(bit("hv_input_assert_virtual_interrupt", "control.logical_dest_mode", ASSERT_INTERRUPT_CONTROL,
                INTERRUPT_CONTROL_LOGICAL_DEST_MODE_BIT));
        return b;
    }

    private static BitField bit(String struct, String path, long base, int bit) {
        return new BitField(struct, path, base + bit / 8, bit % 8, 1);
    }

    static Map<String, Long> constantsOf(Class<?> c) throws IllegalAccessException {
        Map<String, Long> m = new LinkedHashMap<>();
        for (Field f : c.getFields()) {
            if (Modifier.isStatic(f.getModifiers()) && (f.getType() == int.class || f.getType() == long.class)) {
                m.put(f.getName(), ((Number) f.get(null)).longValue() & (f.getType() == int.class ? 0xFFFF_FFFFL : -1L));
            }
        }
        return m;
    }

    static Map<String, Long> hvConstantsInTheHeaders() throws IllegalAccessException {
        Map<String, Long> m = constantsOf(HvConstants.class);
        m.keySet().removeAll(HvConstants.NOT_IN_LINUX_HEADERS);
        for (HvRegisterName r : HvRegisterName.values()) {
            if (r.inLinuxHeaders()) {
                m.put(r.cName(), (long) r.value());
            }
        }
        return m;
    }

    @BeforeAll
    static void probe() throws Exception {
        List<StructLayout> structs = new ArrayList<>(MshvStructs.ALL);
        structs.addAll(HvStructs.IN_LINUX_HEADERS);
        Map<String, Long> notInHeaders = new LinkedHashMap<>(constantsOf(HvConstants.class));
        notInHeaders.keySet().retainAll(HvConstants.NOT_IN_LINUX_HEADERS);
        for (HvRegisterName r : HvRegisterName.values()) {
            if (!r.inLinuxHeaders()) {
                notInHeaders.put(r.cName(), (long) r.value());
            }
        }
        String body = LayoutChecker.probe(structs)
                + HeaderProbe.constantProbe(MshvIoctls.ALL.keySet())
                + HeaderProbe.valueProbe(constantsOf(MshvConstants.class).keySet())
                + HeaderProbe.valueProbe(hvConstantsInTheHeaders().keySet())
                + HeaderProbe.constantProbe(notInHeaders.keySet())
                + HeaderProbe.bitFieldProbe(bitFields())
                + "  printf(\"C offsetof(mshv_user_irq_table.entries) %lu\\n\","
                + " (unsigned long)offsetof(struct mshv_user_irq_table, entries));\n"
                + "  printf(\"C offsetof(hv_input_set_vp_registers.elements) %lu\\n\","
                + " (unsigned long)offsetof(struct hv_input_set_vp_registers, elements));\n"
                + "  printf(\"C offsetof(hv_input_get_vp_registers.names) %lu\\n\","
                + " (unsigned long)offsetof(struct hv_input_get_vp_registers, names));\n";
        answers = HeaderProbe.run(MshvHeaders.program(), body);
    }

    @Test
    void uapiStructLayoutsMatchLinuxMshvHeader() {
        assertThat(MshvStructs.ALL).hasSize(12);
        assertThat(LayoutChecker.compare(MshvStructs.ALL, answers)).isEmpty();
    }

    @Test
    void flexibleArraysStartWhereTheHeadersPutThem() {
        assertThat(answers.get("C offsetof(mshv_user_irq_table.entries)")[0]).isEqualTo(MshvStructs.IRQ_TABLE_ENTRIES);
        assertThat(answers.get("C offsetof(hv_input_set_vp_registers.elements)")[0]).isEqualTo(VP_REGISTERS_ELEMENTS);
        assertThat(answers.get("C offsetof(hv_input_get_vp_registers.names)")[0]).isEqualTo(VP_REGISTERS_ELEMENTS);
    }

    @Test
    void ioctlNumbersMatchLinuxMshvHeader() {
        List<String> missing = new ArrayList<>();
        assertThat(LayoutChecker.compareConstants(MshvIoctls.ALL, answers, missing)).isEmpty();
        assertThat(missing).as("ioctls <linux/mshv.h> does not define").isEmpty();
        assertThat(MshvIoctls.ALL).hasSize(12);
    }

    @Test
    void uapiConstantsMatchLinuxMshvHeader() throws Exception {
        List<String> missing = new ArrayList<>();
        assertThat(LayoutChecker.compareConstants(constantsOf(MshvConstants.class), answers, missing)).isEmpty();
        assertThat(missing).isEmpty();
    }

    @Test
    void hypervisorLayoutsMatchTheKernelsHypervHeaders() {
        assertThat(LayoutChecker.compare(HvStructs.IN_LINUX_HEADERS, answers)).isEmpty();
        assertThat(HV_MESSAGE.byteSize()).isEqualTo(HvConstants.HV_MESSAGE_SIZE);
    }

    @Test
    void bitFieldsTheBackendReadsMatchTheKernelsHypervHeaders() {
        assertThat(LayoutChecker.compareBitFields(bitFields(), answers)).isEmpty();
    }

    @Test
    void hypervisorConstantsAndRegisterNamesMatchTheKernelsHypervHeaders() throws Exception {
        List<String> missing = new ArrayList<>();
        Map<String, Long> checked = hvConstantsInTheHeaders();
        assertThat(LayoutChecker.compareConstants(checked, answers, missing)).isEmpty();
        assertThat(missing).isEmpty();
        assertThat(checked.keySet()).contains("HVMSG_X64_HALT", "HVCALL_SET_VP_REGISTERS", "HVCALL_GET_VP_CPUID_VALUES",
                "HVCALL_TRANSLATE_VIRTUAL_ADDRESS",
                "HV_PARTITION_PROPERTY_SYNTHETIC_PROC_FEATURES", "HV_X64_REGISTER_DR7");
    }

    @Test
    void whatTheHeadersLackAgreesWithThemWhereTheyDefineIt() throws Exception {
        // a macro a later header adds is compared; an enumerator it adds is not seen by #ifdef
        Map<String, Long> lacking = constantsOf(HvConstants.class);
        lacking.keySet().retainAll(HvConstants.NOT_IN_LINUX_HEADERS);
        assertThat(LayoutChecker.compareConstants(lacking, answers, new ArrayList<>())).isEmpty();
        assertThat(HvStructs.NOT_IN_LINUX_HEADERS).allSatisfy(s ->
                assertThat(answers.get("S " + s.name().orElseThrow())).as("probed although not in the headers").isNull());
    }

    @Test
    void messagesTheHeadersLackAreBuiltOnTheCheckedHeaderAndFitThePayload() {
        for (StructLayout s : HvStructs.NOT_IN_LINUX_HEADERS) {
            assertThat(s.byteSize()).as(s.name().orElseThrow()).isLessThanOrEqualTo(HvConstants.HV_MESSAGE_PAYLOAD_BYTE_COUNT);
            if (s.name().orElseThrow().endsWith("_message")) {
                assertThat(s.memberLayouts().getFirst()).isEqualTo(HV_X64_INTERCEPT_MESSAGE_HEADER.withName("header"));
            }
        }
        // fixed points of the TLFS formats: the exception message fills the payload exactly
        assertThat(HV_X64_IO_PORT_INTERCEPT_MESSAGE.byteSize()).isEqualTo(128);
        assertThat(HV_X64_EXCEPTION_INTERCEPT_MESSAGE.byteSize()).isEqualTo(240);
        assertThat(HV_INPUT_INSTALL_INTERCEPT.byteSize()).isEqualTo(24);
        // a register's format fills the value of hv_register_assoc, whose size and offset are checked above
        long registerValue = answers.get("S hv_register_assoc")[0] - REGISTER_ASSOC_VALUE;
        assertThat(HV_X64_FP_CONTROL_STATUS_REGISTER.byteSize()).isEqualTo(registerValue);
        assertThat(HV_X64_XMM_CONTROL_STATUS_REGISTER.byteSize()).isEqualTo(registerValue);
        // the TLFS's fixed sizes: 44 registers of 4 bytes; a CPUID query of 24 bytes after a 24-byte header, 16 out
        assertThat(HV_LOCAL_INTERRUPT_CONTROLLER_STATE.byteSize()).isEqualTo(176);
        assertThat(HV_CPUID_LEAF_INFO.byteSize()).isEqualTo(24);
        assertThat(GET_CPUID_VALUES_LEAVES).isEqualTo(24);
        assertThat(HV_OUTPUT_GET_VP_CPUID_VALUES.byteSize()).isEqualTo(16);
        // the translation's: partition, VP, padding, flags, page in 32 bytes; a 64-bit result and the page out
        assertThat(HV_INPUT_TRANSLATE_VIRTUAL_ADDRESS.byteSize()).isEqualTo(32);
        assertThat(TRANSLATE_CONTROL_FLAGS).isEqualTo(16);
        assertThat(HV_OUTPUT_TRANSLATE_VIRTUAL_ADDRESS.byteSize()).isEqualTo(16);
        assertThat(TRANSLATE_RESULT_CODE).isZero();
        assertThat(TRANSLATE_GPA_PAGE).isEqualTo(8);
    }

    @Test
    void headersComeFromDebianPackagesOfOneKernelVersion() throws Exception {
        String[] lines = MshvHeaders.packages().split("\n");
        assertThat(lines).hasSize(2);
        assertThat(lines[0]).startsWith("linux-libc-dev ");
        assertThat(lines[1]).matches("linux-headers-\\S+-common \\S+");
        assertThat(lines[0].split(" ")[1]).isEqualTo(lines[1].split(" ")[1]);
    }
}
