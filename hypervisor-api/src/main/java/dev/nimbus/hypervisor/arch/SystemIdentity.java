package dev.nimbus.hypervisor.arch;

import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * Who the machine says it is to the guest's firmware tables (SMBIOS on x86-64: {@code dmidecode}, and
 * {@code /sys/class/dmi/id} in a Linux guest): the system's maker, product, serial number and UUID, and the
 * OEM strings an orchestrator passes to software in the guest (cloud-init, systemd credentials).
 *
 * @param manufacturer SMBIOS type 1 manufacturer ({@code sys_vendor})
 * @param productName  type 1 product name
 * @param version      type 1 version
 * @param serialNumber type 1 serial number
 * @param uuid         type 1 UUID
 * @param family       type 1 family
 * @param skuNumber    type 1 SKU number
 * @param oemStrings   type 11 OEM strings, in order (none: no type 11 structure)
 */
public record SystemIdentity(String manufacturer, String productName, Optional<String> version, Optional<String> serialNumber,
                             Optional<UUID> uuid, Optional<String> family, Optional<String> skuNumber, List<String> oemStrings) {
    /** What a Nimbus machine says when its configuration says nothing. */
    public static final SystemIdentity NIMBUS = new SystemIdentity("Nimbus", "nimbus", Optional.empty(), Optional.empty(),
            Optional.empty(), Optional.empty(), Optional.empty(), List.of());

    public SystemIdentity {
        oemStrings = List.copyOf(oemStrings);
    }

    /**
     * The problem with {@code text} as one of these strings, or null: firmware tables hold one byte per
     * character, so it must be printable ASCII, and not empty (SMBIOS ends a structure's strings at an empty one).
     */
    public static String textProblem(String text) {
        if (text.isEmpty()) {
            return "is empty";
        }
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c < 0x20 || c > 0x7e) {
                return String.format("has a character other than printable ASCII (U+%04X at %d)", (int) c, i);
            }
        }
        return null;
    }
}
