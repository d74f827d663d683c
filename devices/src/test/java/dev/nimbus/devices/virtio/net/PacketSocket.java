package dev.nimbus.devices.virtio.net;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.Arrays;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The far end of a test's tap: a raw AF_PACKET socket bound to the tap's interface and one EtherType
 * (packet(7)). What it sends leaves through the interface, so the tap's reader (the device) gets it as a
 * received frame; what the device writes into the tap arrives here byte for byte. Binding to one
 * EtherType keeps anything else the kernel might send out of the test's view.
 */
public final class PacketSocket implements AutoCloseable {
    private static final int AF_PACKET = 17;
    private static final int SOCK_RAW = 3;
    private static final int MSG_DONTWAIT = 0x40;
    private static final int EAGAIN = 11;
    /** struct sockaddr_ll: family u16, protocol be16, ifindex s32, hatype u16, pkttype u8, halen u8, addr[8]. */
    private static final int SOCKADDR_LL_SIZE = 20;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle SOCKET = handle("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle BIND = handle("bind", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle SEND = handle("send", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle RECV = handle("recv", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle CLOSE = handle("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));

    private final int fd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment buffer = arena.allocate(70_000);
    private final MemorySegment capture = arena.allocate(CAPTURE);

    private static MethodHandle handle(String name, FunctionDescriptor fd) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), fd, Linker.Option.captureCallState("errno"));
    }

    private PacketSocket(int fd) {
        this.fd = fd;
    }

    /** Opens the socket; call on the namespace's thread. */
    public static PacketSocket open(int ifindex, int etherType) throws Throwable {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment capture = a.allocate(CAPTURE);
            int proto = Short.toUnsignedInt(Short.reverseBytes((short) etherType));
            int fd = (int) SOCKET.invokeExact(capture, AF_PACKET, SOCK_RAW, proto);
            if (fd < 0) {
                throw new IllegalStateException("socket(AF_PACKET) failed, errno " + ERRNO.get(capture, 0L));
            }
            MemorySegment sll = a.allocate(SOCKADDR_LL_SIZE);
            sll.set(ValueLayout.JAVA_SHORT, 0, (short) AF_PACKET);
            sll.set(ValueLayout.JAVA_SHORT, 2, (short) proto);
            sll.set(ValueLayout.JAVA_INT, 4, ifindex);
            if ((int) BIND.invokeExact(capture, fd, sll, SOCKADDR_LL_SIZE) < 0) {
                int errno = (int) ERRNO.get(capture, 0L);
                int ignored = (int) CLOSE.invokeExact(capture, fd);
                throw new IllegalStateException("bind(AF_PACKET) failed, errno " + errno);
            }
            return new PacketSocket(fd);
        }
    }

    /** Sends one whole Ethernet frame out of the interface. */
    public synchronized void send(byte[] frame) throws Throwable {
        MemorySegment.copy(frame, 0, buffer, ValueLayout.JAVA_BYTE, 0, frame.length);
        long n = (long) SEND.invokeExact(capture, fd, buffer, (long) frame.length, 0);
        if (n != frame.length) {
            throw new IllegalStateException("send(AF_PACKET) returned " + n + ", errno " + ERRNO.get(capture, 0L));
        }
    }

    /** The next frame the interface received, or null if none came within {@code millis}. */
    public synchronized byte[] receive(long millis) throws Throwable {
        long deadline = System.nanoTime() + millis * 1_000_000;
        do {
            long n = (long) RECV.invokeExact(capture, fd, buffer, buffer.byteSize(), MSG_DONTWAIT);
            if (n >= 0) {
                return Arrays.copyOf(buffer.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), (int) n);
            }
            if ((int) ERRNO.get(capture, 0L) != EAGAIN) {
                throw new IllegalStateException("recv(AF_PACKET) failed, errno " + ERRNO.get(capture, 0L));
            }
            Thread.sleep(2);
        } while (System.nanoTime() < deadline);
        return null;
    }

    @Override
    public void close() {
        try {
            int ignored = (int) CLOSE.invokeExact(capture, fd);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        arena.close();
    }
}
