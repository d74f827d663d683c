package dev.nimbus.devices.pci;

import java.util.List;

/**
 * Device 0 of bus 0: the host bridge, a function with no BARs whose class (0x060000) tells the guest that
 * this is where the CPU meets the PCI bus. It takes the IDs of QEMU's generic PCIe host bridge
 * (1b36:0008), which guests know needs no driver.
 */
public final class PciHostBridge implements PciDevice {
    private final PciConfigSpace config = new PciConfigSpace(0x1b36, 0x0008, 0x060000, 0, 0x1b36, 0x0008);

    @Override
    public PciConfigSpace config() {
        return config;
    }

    @Override
    public List<PciBar> bars() {
        return List.of();
    }

    @Override
    public String name() {
        return "PCI host bridge";
    }
}
