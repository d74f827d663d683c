package dev.nimbus.mshv.intercept;

/** A {@code hlt} ({@code HVMSG_X64_HALT}). */
public record HaltIntercept(InterceptHeader header) implements HvIntercept {
}
