package dev.nimbus.api;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * What {@link MicroVm#info()} reports: the VM's status and the configuration it runs.
 *
 * @param status      where the VM is in its life
 * @param cpus        its vCPUs
 * @param memoryBytes its RAM
 * @param kernel      the kernel it boots
 * @param initramfs   its initramfs, if any
 * @param cmdline     the kernel command line
 * @param disks       its virtio-blk disks' image files, in the guest's order ({@code vda} first)
 */
public record VmDescription(VmStatus status, int cpus, long memoryBytes, Path kernel, Optional<Path> initramfs,
                            String cmdline, List<Path> disks) {
    /** Keeps an unmodifiable copy of {@code disks}. */
    public VmDescription {
        disks = List.copyOf(disks);
    }
}
