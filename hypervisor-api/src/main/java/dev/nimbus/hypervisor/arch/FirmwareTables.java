package dev.nimbus.hypervisor.arch;

import java.util.List;

/**
 * The firmware tables an architecture gives the guest, as bytes: ACPI tables on x86-64 (named by
 * signature: {@code RSDP}, {@code XSDT}, {@code FACP}, {@code DSDT}, {@code APIC}, ...), one flattened
 * device tree ({@code fdt}) on AArch64 and riscv64. Produced without a VM, so tests check them with
 * {@code iasl} and {@code dtc}.
 */
public record FirmwareTables(List<Table> tables) {
    public FirmwareTables {
        tables = List.copyOf(tables);
    }

    /** One table: its name and its exact bytes. */
    public record Table(String name, byte[] bytes) {
        public Table {
            bytes = bytes.clone();
        }

        @Override
        public byte[] bytes() {
            return bytes.clone();
        }
    }
}
