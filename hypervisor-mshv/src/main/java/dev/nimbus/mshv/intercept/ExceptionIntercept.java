package dev.nimbus.mshv.intercept;

import java.util.OptionalInt;

/**
 * An exception an intercept was installed for ({@code HVMSG_X64_EXCEPTION_INTERCEPT}): its vector, error code
 * when it has one, parameter (CR2 for a page fault) and instruction bytes. (The message also carries the
 * general-purpose registers; they are not decoded yet.)
 */
public record ExceptionIntercept(InterceptHeader header, int vector, OptionalInt errorCode, boolean software,
                                 long parameter, InstructionBytes instruction) implements HvIntercept {
}
