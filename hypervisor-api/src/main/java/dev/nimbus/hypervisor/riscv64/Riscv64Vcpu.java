package dev.nimbus.hypervisor.riscv64;

import dev.nimbus.hypervisor.OneRegAccess;
import dev.nimbus.hypervisor.Vcpu;

/**
 * A riscv64 vCPU (hart), programmed through one-reg access (core registers, CSRs, timer, ISA config) by
 * {@code arch-riscv64}.
 */
public interface Riscv64Vcpu extends Vcpu, OneRegAccess {
}
