package dev.nimbus.hypervisor;

/** A vCPU's multiprocessing state: whether it runs, waits for a start-up IPI (x86) or is powered off (PSCI/SBI). */
public enum MpState {
    RUNNABLE,
    UNINITIALIZED,
    INIT_RECEIVED,
    HALTED,
    SIPI_RECEIVED,
    STOPPED,
}
