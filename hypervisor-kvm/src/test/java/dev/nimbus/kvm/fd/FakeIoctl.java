package dev.nimbus.kvm.fd;

import dev.nimbus.host.NativeIoctl;
import java.lang.foreign.MemorySegment;

/**
 * A {@link NativeIoctl} that makes no system call, so the descriptor classes' argument-filling code runs
 * without /dev/kvm: it answers each call from a script of results (minus an errno for a failure), then 0,
 * and keeps what the last call passed. Allocates nothing per call. One thread at a time.
 */
public final class FakeIoctl implements NativeIoctl {
    private final int[] script;
    private int next;
    private int calls;
    private long lastRequest;
    private MemorySegment lastArg = MemorySegment.NULL;

    /** Answers the first calls with {@code results} in order, every later one with 0. */
    public FakeIoctl(int... results) {
        this.script = results.clone();
    }

    /** A VM fd whose ioctls come here (its descriptor, -1, is never used). */
    public KvmVmFd vm() {
        return new KvmVmFd(-1, 0, this);
    }

    /** A vCPU fd over {@code runPage} (a stand-in for the mapped kvm_run) whose ioctls come here. Do not close it. */
    KvmVcpuFd vcpu(MemorySegment runPage) {
        return new KvmVcpuFd(-1, 0, runPage.address(), runPage.byteSize(), this);
    }

    @Override
    public int ioctl(int fd, long request, MemorySegment arg) {
        lastArg = arg;
        return answer(request);
    }

    @Override
    public int ioctl(int fd, long request, long arg) {
        lastArg = MemorySegment.NULL;
        return answer(request);
    }

    private int answer(long request) {
        calls++;
        lastRequest = request;
        return next < script.length ? script[next++] : 0;
    }

    /** How many ioctls were made. */
    public int calls() {
        return calls;
    }

    public long lastRequest() {
        return lastRequest;
    }

    /** The pointer argument of the last ioctl (NULL for an integer one): the struct as the kernel would read it. */
    public MemorySegment lastArg() {
        return lastArg;
    }
}
