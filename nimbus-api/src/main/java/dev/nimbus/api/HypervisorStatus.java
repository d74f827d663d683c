package dev.nimbus.api;

/**
 * Whether a hypervisor backend can run guests on this host ({@link MicroVm#hypervisorStatus(String)}).
 *
 * @param name   the backend ({@code kvm}, {@code mshv}), or what was asked for when none fits
 * @param usable true when guests run at hardware speed here
 * @param reason what was found: the device and its version, or why it cannot be used (a missing device,
 *               no permission, a {@code /dev/kvm} that emulates guest kernel code)
 */
public record HypervisorStatus(String name, boolean usable, String reason) {}
