package dev.nimbus.vmm.config;

import dev.nimbus.hypervisor.arch.IrqChipMode;
import dev.nimbus.hypervisor.arch.SystemIdentity;

import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * {@code --platform serial_number=S,uuid=U,oem_strings=[A,B],system_manufacturer=M,...} ({@code platform} in
 * VmConfig JSON): what the machine says it is in its SMBIOS tables on x86-64 ({@code dmidecode},
 * {@code /sys/class/dmi/id} in the guest). Cloud Hypervisor's {@code serial_number} and {@code uuid} are
 * also spelled {@code system_serial_number} and {@code system_uuid}; one spelling per setting. Unset
 * strings leave Nimbus's own ({@link SystemIdentity#NIMBUS}). AArch64 and riscv64 guests have no SMBIOS
 * without UEFI firmware, so there the identity is accepted and not shown to the guest.
 *
 * <p>{@code irqchip=auto|kernel|split} is Nimbus's own: where the interrupt controllers are
 * ({@link IrqChipMode}). Cloud Hypervisor has no such setting (it always uses KVM's in-kernel irqchip, and a
 * userspace IOAPIC on MSHV); QEMU's {@code -machine kernel-irqchip=split} is the same idea.
 */
public record PlatformConfig(Optional<String> serialNumber, Optional<UUID> uuid, List<String> oemStrings,
                             Optional<String> manufacturer, Optional<String> productName, Optional<String> version,
                             Optional<String> family, Optional<String> skuNumber, IrqChipMode irqchip) {
    /** Nothing set: a Nimbus machine. */
    public static final PlatformConfig DEFAULT = new PlatformConfig(Optional.empty(), Optional.empty(), List.of(), Optional.empty(),
            Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), IrqChipMode.AUTO);

    public PlatformConfig {
        oemStrings = List.copyOf(oemStrings);
        java.util.Objects.requireNonNull(irqchip, "irqchip");
    }

    /** One {@code --platform} value. */
    public static PlatformConfig parse(String text) throws ConfigException {
        return from(Values.fromCommandLine(Schema.PLATFORM, text));
    }

    /** The section's values from either front end. */
    public static PlatformConfig from(Values v) throws ConfigException {
        return new PlatformConfig(either(v, Schema.PLATFORM_SERIAL_NUMBER, Schema.PLATFORM_SYSTEM_SERIAL_NUMBER),
                either(v, Schema.PLATFORM_UUID, Schema.PLATFORM_SYSTEM_UUID),
                v.find(Schema.PLATFORM_OEM_STRINGS).orElse(List.of()), v.find(Schema.PLATFORM_SYSTEM_MANUFACTURER),
                v.find(Schema.PLATFORM_SYSTEM_PRODUCT_NAME), v.find(Schema.PLATFORM_SYSTEM_VERSION),
                v.find(Schema.PLATFORM_SYSTEM_FAMILY), v.find(Schema.PLATFORM_SYSTEM_SKU_NUMBER),
                IrqChipMode.valueOf(v.find(Schema.PLATFORM_IRQCHIP).orElse("auto").toUpperCase(java.util.Locale.ROOT)));
    }

    private static <T> Optional<T> either(Values v, Field<T> alias, Field<T> name) throws ConfigException {
        if (v.given(alias) && v.given(name)) {
            throw v.wrong(alias, "give either this or " + v.where(name) + ", not both");
        }
        return v.given(alias) ? v.find(alias) : v.find(name);
    }

    /** The identity the firmware tables show. */
    public SystemIdentity identity() {
        SystemIdentity n = SystemIdentity.NIMBUS;
        return new SystemIdentity(manufacturer.orElse(n.manufacturer()), productName.orElse(n.productName()), version,
                serialNumber, uuid, family, skuNumber, oemStrings);
    }
}
