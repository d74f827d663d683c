package dev.nimbus.hypervisor;

/**
 * Register access by 64-bit register id, the way AArch64 and riscv64 vCPUs expose their state
 * ({@code KVM_GET_ONE_REG}/{@code KVM_SET_ONE_REG}): the id encodes the architecture, the register's size
 * and which register. The arch modules build the ids; backends pass them through.
 */
public interface OneRegAccess {
    /** Reads a register of up to 64 bits. */
    long getOneReg(long id);

    /** Writes a register of up to 64 bits. */
    void setOneReg(long id, long value);

    /** Reads a register of any size (128-bit FP/SIMD registers) into {@code value}, whose length is the size. */
    void getOneReg(long id, byte[] value);

    /** Writes a register of any size from {@code value}. */
    void setOneReg(long id, byte[] value);

    /** The ids of every register this vCPU has ({@code KVM_GET_REG_LIST}). */
    long[] registerList();
}
