package dev.nimbus.arch.x86_64.boot;

/** A valid hand-made bzImage for tests outside this package (see {@link SyntheticKernels}). */
public final class SyntheticBzImage {
    private SyntheticBzImage() {}

    public static byte[] bytes() {
        return SyntheticKernels.bzImage();
    }
}
