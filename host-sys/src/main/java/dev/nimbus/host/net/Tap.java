package dev.nimbus.host.net;

import dev.nimbus.host.Errno;
import dev.nimbus.host.Ioctl;
import dev.nimbus.host.LibC;
import dev.nimbus.host.SyscallException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.net.Inet4Address;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * A Linux tap device (an Ethernet interface whose other end is this descriptor), opened through
 * {@code /dev/net/tun} with {@code IFF_TAP | IFF_NO_PI | IFF_VNET_HDR}: every frame read or written is
 * preceded by a 12-byte {@code struct virtio_net_hdr_v1} (TUNSETVNETHDRSZ), the same header a virtio-net
 * driver puts in front of its frames, so frames go between the tap and guest memory with no copy and no
 * translation. Owns its descriptor, which is non-blocking.
 *
 * <p>Which network namespace the interface lives in is the one of the thread that opens it; the address
 * calls ({@link #setAddress}, {@link #up}) act in the namespace of the calling thread too.
 *
 * <p>Facts from linux/if_tun.h, linux/if.h and linux/sockios.h; {@code TapLayoutTest} checks them against
 * the host's headers with gcc. Threads: {@link #readv} and {@link #writev} may run on two threads at once
 * (each has its own iovec scratch); the configuration calls from any one thread.
 */
public final class Tap implements AutoCloseable {
    /** Interface names are at most 15 bytes and a NUL. */
    public static final int IFNAMSIZ = 16;
    /** {@code struct virtio_net_hdr_v1}, num_buffers included. */
    public static final int VNET_HDR_SIZE = 12;

    public static final int IFF_TAP = 0x0002;
    public static final int IFF_NO_PI = 0x1000;
    public static final int IFF_VNET_HDR = 0x4000;
    /** Interface flags (SIOCGIFFLAGS). */
    public static final int IFF_UP = 0x1;

    /** TUNSETOFFLOAD bits: what this end accepts in frames it reads. */
    public static final int TUN_F_CSUM = 0x01;
    public static final int TUN_F_TSO4 = 0x02;
    public static final int TUN_F_TSO6 = 0x04;
    public static final int TUN_F_TSO_ECN = 0x08;
    public static final int TUN_F_UFO = 0x10;

    private static final int TUN_TYPE = 'T';
    static final long TUNSETIFF = Ioctl.iow(TUN_TYPE, 202, 4);
    static final long TUNSETOFFLOAD = Ioctl.iow(TUN_TYPE, 208, 4);
    static final long TUNSETVNETHDRSZ = Ioctl.iow(TUN_TYPE, 216, 4);
    static final long TUNSETPERSIST = Ioctl.iow(TUN_TYPE, 203, 4);
    /** The requests made on an open tap while a guest runs (its driver's offloads): a vCPU thread's filter allows them. */
    public static final java.util.Set<Long> RUNTIME_IOCTLS = java.util.Set.of(TUNSETOFFLOAD);

    /** Socket ioctls (linux/sockios.h): plain numbers, not _IOC-encoded. */
    static final long SIOCGIFFLAGS = 0x8913;
    static final long SIOCSIFFLAGS = 0x8914;
    static final long SIOCSIFADDR = 0x8916;
    static final long SIOCSIFNETMASK = 0x891c;
    static final long SIOCGIFHWADDR = 0x8927;
    static final long SIOCGIFINDEX = 0x8933;

    /** {@code struct sockaddr_in}; port and address in network byte order. */
    public static final StructLayout SOCKADDR_IN = MemoryLayout.structLayout(
            JAVA_SHORT.withName("sin_family"),
            JAVA_SHORT.withName("sin_port"),
            JAVA_INT.withName("sin_addr"),
            MemoryLayout.sequenceLayout(8, JAVA_BYTE).withName("sin_zero")).withName("sockaddr_in");

    /** {@code struct ifmap}: the largest member of the ifreq union, which sets its size (24 bytes). */
    private static final StructLayout IFMAP = MemoryLayout.structLayout(
            JAVA_LONG.withName("mem_start"), JAVA_LONG.withName("mem_end"), JAVA_SHORT.withName("base_addr"),
            JAVA_BYTE.withName("irq"), JAVA_BYTE.withName("dma"), JAVA_BYTE.withName("port"),
            MemoryLayout.paddingLayout(3)).withName("ifmap");

    /** {@code struct ifreq}: a name, then a union of which Nimbus uses the flags, an address, the index. */
    public static final StructLayout IFREQ = MemoryLayout.structLayout(
            MemoryLayout.sequenceLayout(IFNAMSIZ, JAVA_BYTE).withName("ifr_name"),
            MemoryLayout.unionLayout(
                    SOCKADDR_IN.withName("ifr_addr"),
                    JAVA_SHORT.withName("ifr_flags"),
                    JAVA_INT.withName("ifr_ifindex"),
                    IFMAP.withName("ifr_map")).withName("ifr_ifru")).withName("ifreq");
    static final long IFR_UNION = IFREQ.byteOffset(groupElement("ifr_ifru"));
    static final long IFR_FLAGS = IFR_UNION;
    static final long IFR_ADDR = IFR_UNION;
    static final long IFR_INDEX = IFR_UNION;
    static final long SIN_ADDR = SOCKADDR_IN.byteOffset(groupElement("sin_addr"));
    /** {@code ifr_hwaddr} is a {@code struct sockaddr}: sa_family, then sa_data with the MAC. */
    static final long IFR_HWADDR_DATA = IFR_UNION + 2;

    private final int fd;
    private final String name;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment readIov;
    private final MemorySegment writeIov;
    private final Object readLock = new Object();
    private final Object writeLock = new Object();
    private volatile boolean closed;

    private Tap(int fd, String name) {
        this.fd = fd;
        this.name = name;
        this.readIov = arena.allocate(LibC.IOVEC, LibC.IOV_MAX);
        this.writeIov = arena.allocate(LibC.IOVEC, LibC.IOV_MAX);
    }

    /**
     * Creates tap {@code name}, or attaches to the existing tap of that name (one an administrator made
     * with {@code ip tuntap add NAME mode tap vnet_hdr}), in the calling thread's network namespace. A
     * name with {@code %d} in it, or an empty one, lets the kernel pick the number ({@code tap%d}); read
     * the result with {@link #name()}.
     *
     * @throws IllegalArgumentException when the name cannot be an interface name
     * @throws SyscallException         with a message saying what to do (load the tun module, run with
     *                                  CAP_NET_ADMIN, pick another name)
     */
    public static Tap open(String name) {
        String requested = name.isEmpty() ? "tap%d" : name;
        byte[] bytes = requested.getBytes(StandardCharsets.US_ASCII);
        if (bytes.length >= IFNAMSIZ) {
            throw new IllegalArgumentException("tap name '" + name + "' is longer than " + (IFNAMSIZ - 1)
                    + " characters, the limit of Linux interface names");
        }
        if (requested.contains("/") || requested.chars().anyMatch(Character::isWhitespace) || !requested.equals(new String(bytes, StandardCharsets.US_ASCII))) {
            throw new IllegalArgumentException("tap name '" + name + "' is not a valid interface name (ASCII, no '/' or spaces)");
        }
        int fd;
        try {
            fd = LibC.open("/dev/net/tun", LibC.O_RDWR | LibC.O_NONBLOCK | LibC.O_CLOEXEC, 0);
        } catch (SyscallException e) {
            throw new SyscallException("open(/dev/net/tun)", e.errno(), switch (e.errno()) {
                case Errno.ENOENT -> "the host has no /dev/net/tun: load the tun module (modprobe tun) "
                        + "or create the node (mknod /dev/net/tun c 10 200)";
                case Errno.ENODEV, Errno.ENXIO -> "the kernel has no tun/tap driver: load the tun module (modprobe tun)";
                case Errno.EACCES, Errno.EPERM -> "no permission to open /dev/net/tun: run as root or give this user access to it";
                default -> "cannot open the tun/tap control device";
            });
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ifr = a.allocate(IFREQ);
            MemorySegment.copy(bytes, 0, ifr, JAVA_BYTE, 0, bytes.length);
            ifr.set(JAVA_SHORT, IFR_FLAGS, (short) (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR));
            int r = LibC.ioctlErrno(fd, TUNSETIFF, ifr);
            if (r < 0) {
                throw new SyscallException("TUNSETIFF(" + requested + ")", -r, switch (-r) {
                    case Errno.EPERM -> "creating or attaching tap '" + requested + "' needs CAP_NET_ADMIN: run as root, "
                            + "or have an administrator create it for this user (ip tuntap add " + requested
                            + " mode tap vnet_hdr user USER)";
                    case Errno.EBUSY -> "tap '" + requested + "' is already attached to another process";
                    case Errno.EINVAL -> "'" + requested + "' exists but is not a tap made with vnet_hdr and a single queue, "
                            + "or is not a valid interface name";
                    case Errno.EEXIST -> "an interface named '" + requested + "' exists and is not a tap";
                    default -> "cannot create or attach tap '" + requested + "'";
                });
            }
            String actual = ifr.getString(0, StandardCharsets.US_ASCII);
            MemorySegment size = a.allocate(JAVA_INT);
            size.set(JAVA_INT, 0, VNET_HDR_SIZE);
            r = LibC.ioctlErrno(fd, TUNSETVNETHDRSZ, size);
            if (r < 0) {
                throw new SyscallException("TUNSETVNETHDRSZ(" + actual + ")", -r);
            }
            return new Tap(fd, actual);
        } catch (RuntimeException e) {
            LibC.close(fd);
            throw e;
        }
    }

    /**
     * Wraps {@code fd}, a descriptor that already carries one frame per read or write with its 12-byte
     * {@code virtio_net_hdr_v1} first, and takes ownership of it: a tap another process opened and passed
     * on, or one end of a non-blocking {@code SOCK_SEQPACKET} socket pair, which keeps frame boundaries and
     * cuts a frame short as a tap does (the fuzz targets of virtio-net put that in place of a tap, with the
     * other end as the wire). The offload calls fail on a descriptor that is not a tap.
     */
    public static Tap adopt(int fd, String name) {
        if (fd < 0) {
            throw new IllegalArgumentException("no descriptor to adopt: " + fd);
        }
        return new Tap(fd, name);
    }

    /**
     * Makes the interface outlive this descriptor ({@code TUNSETPERSIST}), as {@code ip tuntap add} makes an
     * operator's tap, or, with false, go with the last descriptor again (the way to delete a persistent tap
     * without {@code ip}).
     */
    public void persist(boolean persistent) {
        int r = LibC.ioctlErrno(fd, TUNSETPERSIST, persistent ? 1 : 0);
        if (r < 0) {
            throw new SyscallException("TUNSETPERSIST(" + name + ")", -r, "cannot change whether tap '" + name + "' persists");
        }
    }

    /** The interface name the kernel gave the tap. */
    public String name() {
        return name;
    }

    /** The descriptor, for epoll. */
    public int fd() {
        return fd;
    }

    /**
     * TUNSETOFFLOAD: which offloads the reader of this tap accepts ({@link #TUN_F_CSUM}, {@link #TUN_F_TSO4},
     * ...): with TUN_F_CSUM the kernel may hand over frames with a partial checksum (NEEDS_CSUM in the
     * header), with the TSO bits frames up to 64 KiB for the reader to segment. 0 asks for finished frames.
     */
    public void setOffload(int tunFlags) {
        int r = LibC.ioctlErrno(fd, TUNSETOFFLOAD, tunFlags & 0xffff_ffffL);
        if (r < 0) {
            throw new SyscallException("TUNSETOFFLOAD(" + name + ", 0x" + Integer.toHexString(tunFlags) + ")", -r);
        }
    }

    /** Gives the interface an IPv4 address and netmask (SIOCSIFADDR, SIOCSIFNETMASK). */
    public void setAddress(Inet4Address address, Inet4Address netmask) {
        withSocket((sock, ifr) -> {
            sockaddr(ifr, address);
            socketIoctl(sock, SIOCSIFADDR, ifr, "SIOCSIFADDR", "setting the address of " + name);
            sockaddr(ifr, netmask);
            socketIoctl(sock, SIOCSIFNETMASK, ifr, "SIOCSIFNETMASK", "setting the netmask of " + name);
            return 0;
        });
    }

    /** Brings the interface up (IFF_UP through SIOCGIFFLAGS/SIOCSIFFLAGS). */
    public void up() {
        withSocket((sock, ifr) -> {
            socketIoctl(sock, SIOCGIFFLAGS, ifr, "SIOCGIFFLAGS", "reading the flags of " + name);
            ifr.set(JAVA_SHORT, IFR_FLAGS, (short) (ifr.get(JAVA_SHORT, IFR_FLAGS) | IFF_UP));
            socketIoctl(sock, SIOCSIFFLAGS, ifr, "SIOCSIFFLAGS", "bringing " + name + " up");
            return 0;
        });
    }

    /** The interface's own MAC address (the host end, not the guest's). */
    public byte[] hardwareAddress() {
        byte[] mac = new byte[6];
        withSocket((sock, ifr) -> {
            socketIoctl(sock, SIOCGIFHWADDR, ifr, "SIOCGIFHWADDR", "reading the MAC address of " + name);
            MemorySegment.copy(ifr, JAVA_BYTE, IFR_HWADDR_DATA, mac, 0, 6);
            return 0;
        });
        return mac;
    }

    /** The interface index (SIOCGIFINDEX). */
    public int index() {
        return withSocket((sock, ifr) -> {
            socketIoctl(sock, SIOCGIFINDEX, ifr, "SIOCGIFINDEX", "reading the index of " + name);
            return ifr.get(JAVA_INT, IFR_INDEX);
        });
    }

    private interface SocketCall {
        int run(int sock, MemorySegment ifr);
    }

    private int withSocket(SocketCall call) {
        int sock = LibC.socket(LibC.AF_INET, LibC.SOCK_DGRAM | LibC.SOCK_CLOEXEC, 0, "socket(AF_INET, SOCK_DGRAM)");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ifr = a.allocate(IFREQ);
            byte[] bytes = name.getBytes(StandardCharsets.US_ASCII);
            MemorySegment.copy(bytes, 0, ifr, JAVA_BYTE, 0, bytes.length);
            return call.run(sock, ifr);
        } finally {
            LibC.close(sock);
        }
    }

    private void socketIoctl(int sock, long request, MemorySegment ifr, String call, String what) {
        int r = LibC.ioctlErrno(sock, request, ifr);
        if (r < 0) {
            String detail = r == -Errno.EPERM ? what + " needs CAP_NET_ADMIN: run as root or grant the capability"
                    : r == -Errno.ENODEV ? "there is no interface " + name + " in the calling thread's network namespace" : what;
            throw new SyscallException(call + "(" + name + ")", -r, detail);
        }
    }

    private static void sockaddr(MemorySegment ifr, Inet4Address address) {
        MemorySegment sin = ifr.asSlice(IFR_ADDR, SOCKADDR_IN.byteSize());
        sin.fill((byte) 0);
        sin.set(JAVA_SHORT, 0, (short) LibC.AF_INET);
        MemorySegment.copy(address.getAddress(), 0, sin, JAVA_BYTE, SIN_ADDR, 4);
    }

    /**
     * Reads one frame, its 12-byte header first, into {@code buffers} (direct buffers, from their positions
     * to their limits; the positions are not moved). Returns the bytes read, header included, or -1 when
     * no frame is waiting. A frame longer than the buffers is cut short and the rest of it lost; the count
     * is then the buffers' size, so a caller that must know leaves one spare byte at the end.
     */
    public long readv(List<ByteBuffer> buffers) {
        synchronized (readLock) {
            int n = fill(readIov, buffers);
            long r = LibC.readv(fd, readIov, n);
            if (r == -Errno.EAGAIN) {
                return -1;
            }
            if (r < 0) {
                throw new SyscallException("readv(" + name + ")", (int) -r);
            }
            return r;
        }
    }

    /**
     * Writes one frame, its 12-byte header first, gathered from {@code buffers} (direct buffers, from
     * their positions to their limits). Returns the bytes written, or -1 when the tap cannot take it now.
     *
     * @throws SyscallException when the kernel refuses the frame (EINVAL: a header that does not describe
     *                          it; EIO: the interface is down)
     */
    public long writev(List<ByteBuffer> buffers) {
        synchronized (writeLock) {
            int n = fill(writeIov, buffers);
            long r = LibC.writev(fd, writeIov, n);
            if (r == -Errno.EAGAIN) {
                return -1;
            }
            if (r < 0) {
                throw new SyscallException("writev(" + name + ")", (int) -r);
            }
            return r;
        }
    }

    private static int fill(MemorySegment iov, List<ByteBuffer> buffers) {
        if (buffers.size() > LibC.IOV_MAX) {
            throw new IllegalArgumentException(buffers.size() + " buffers for one frame (at most " + LibC.IOV_MAX + ")");
        }
        long entry = LibC.IOVEC.byteSize();
        for (int i = 0; i < buffers.size(); i++) {
            ByteBuffer b = buffers.get(i);
            if (!b.isDirect()) {
                throw new IllegalArgumentException("tap I/O needs direct buffers");
            }
            MemorySegment s = MemorySegment.ofBuffer(b);
            iov.set(ValueLayout.ADDRESS, i * entry, s);
            iov.set(JAVA_LONG, i * entry + 8, s.byteSize());
        }
        return buffers.size();
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            LibC.close(fd);
            synchronized (readLock) {
                synchronized (writeLock) {
                    arena.close();
                }
            }
        }
    }

    /** A MAC address as {@code 52:54:00:12:34:56}. */
    public static String formatMac(byte[] mac) {
        StringBuilder sb = new StringBuilder(17);
        for (int i = 0; i < mac.length; i++) {
            if (i > 0) {
                sb.append(':');
            }
            sb.append(String.format("%02x", mac[i] & 0xff));
        }
        return sb.toString();
    }
}
