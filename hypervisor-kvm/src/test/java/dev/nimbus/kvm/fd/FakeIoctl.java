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
    private java.util.List<Long> requests;
    private java.util.List<MemorySegment> args;

    /**
     * Also keeps every request and a copy of its pointer argument's first 256 bytes (this allocates per call), for
     * arguments that live only as long as the call; answers with {@code results} as the constructor's.
     */
    public static FakeIoctl recording(int... results) {
        FakeIoctl f = new FakeIoctl(results);
        f.requests = new java.util.ArrayList<>();
        f.args = new java.util.ArrayList<>();
        return f;
    }

    /** Every request made, in order (a {@link #recording()} one only). */
    public java.util.List<Long> requests() {
        return java.util.List.copyOf(requests);
    }

    /** The copy of call {@code i}'s pointer argument (NULL for an integer one; a {@link #recording()} one only). */
    public MemorySegment arg(int i) {
        return args.get(i);
    }

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
        if (args != null) {
            args.add(java.lang.foreign.Arena.ofAuto().allocate(256).copyFrom(arg.reinterpret(256)));
        }
        return answer(request);
    }

    @Override
    public int ioctl(int fd, long request, long arg) {
        lastArg = MemorySegment.NULL;
        if (args != null) {
            args.add(MemorySegment.NULL);
        }
        return answer(request);
    }

    private int answer(long request) {
        calls++;
        lastRequest = request;
        if (requests != null) {
            requests.add(request);
        }
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
