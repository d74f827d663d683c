package dev.nimbus.mshv.intercept;

/** The guest cannot go on ({@code HVMSG_UNRECOVERABLE_EXCEPTION}; a triple fault among others): an internal error for the VM. */
public record UnrecoverableException(InterceptHeader header) implements HvIntercept {
}
