package dev.nimbus.mshv.intercept;

/**
 * Why a VP stopped: the x64 intercept messages {@code MSHV_RUN_VP} returns, decoded by {@link HvMessageDecoder}.
 * Pure data, copied out of the message buffer; mapping them onto the SPI's {@code VcpuExit} (completing the
 * access, advancing RIP) is the VP run loop's job.
 */
public sealed interface HvIntercept
        permits IoPortIntercept, MemoryIntercept, HaltIntercept, CpuidIntercept, MsrIntercept, ExceptionIntercept,
        UnrecoverableException, ApicEoi {
    // every kind but ApicEoi carries an InterceptHeader (VP, instruction length, access, execution state, CS,
    // RIP, RFLAGS) as its header(); the EOI message has only the VP and the vector
}
