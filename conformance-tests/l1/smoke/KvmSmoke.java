/*
 * KVM smoke program: proves that /dev/kvm runs guest code on this machine (x86-64, AArch64, riscv64).
 * A single-file Java program (java --enable-native-access=ALL-UNNAMED KvmSmoke.java), JDK only, so it
 * runs on any Java 25 with no build. It opens /dev/kvm, creates a VM with one page of guest RAM, puts
 * a few instructions there that write MESSAGE to a device one byte at a time and then stop the vCPU,
 * runs the vCPU and reports what came out:
 *   x86-64   real mode; "out dx, al" to port 0x3f8 (KVM_EXIT_IO), then "hlt" (KVM_EXIT_HLT)
 *   AArch64  "strb" to MMIO 0x20000 (KVM_EXIT_MMIO), then PSCI SYSTEM_OFF via "hvc" (KVM_EXIT_SYSTEM_EVENT)
 *   riscv64  "sb" to MMIO 0x20000 (KVM_EXIT_MMIO), then SBI system reset via "ecall" (KVM_EXIT_SYSTEM_EVENT)
 * Output (checked by dev.nimbus.conformance.KvmSmokeTest):
 *   guest wrote: "<MESSAGE, with \n escaped>"
 *   guest stopped: HLT | SYSTEM_EVENT shutdown
 * Exit status 0 when the guest wrote MESSAGE and stopped as expected, 1 otherwise.
 */
import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

public class KvmSmoke {
    static final String MESSAGE = "Hello from a KVM guest\n";
    static final long RAM_GPA = 0x10000, PAGE = 0x1000, MMIO_GPA = 0x20000;
    static final int X86_PORT = 0x3f8;

    // ioctl numbers from the kernel's _IOC encoding (asm-generic: nr 0-7, type 8-15, size 16-29, dir 30-31)
    static long ioc(int dir, int nr, int size) { return ((long) dir << 30) | ((long) size << 16) | (0xAE << 8) | nr; }
    static final int NONE = 0, WRITE = 1, READ = 2;
    static final long KVM_GET_API_VERSION = ioc(NONE, 0x00, 0), KVM_CREATE_VM = ioc(NONE, 0x01, 0),
            KVM_GET_VCPU_MMAP_SIZE = ioc(NONE, 0x04, 0), KVM_CREATE_VCPU = ioc(NONE, 0x41, 0),
            KVM_RUN = ioc(NONE, 0x80, 0),
            KVM_SET_USER_MEMORY_REGION = ioc(WRITE, 0x46, 32),   // struct kvm_userspace_memory_region
            KVM_SET_REGS = ioc(WRITE, 0x82, 144),                // struct kvm_regs (x86)
            KVM_GET_SREGS = ioc(READ, 0x83, 312), KVM_SET_SREGS = ioc(WRITE, 0x84, 312), // struct kvm_sregs (x86)
            KVM_SET_ONE_REG = ioc(WRITE, 0xac, 16),              // struct kvm_one_reg
            KVM_ARM_VCPU_INIT = ioc(WRITE, 0xae, 32), KVM_ARM_PREFERRED_TARGET = ioc(READ, 0xaf, 32); // kvm_vcpu_init
    // exit reasons and struct kvm_run offsets (include/uapi/linux/kvm.h)
    static final int EXIT_IO = 2, EXIT_HLT = 5, EXIT_MMIO = 6, EXIT_INTR = 10, EXIT_SYSTEM_EVENT = 24;
    static final int SYSTEM_EVENT_SHUTDOWN = 1;
    static final long RUN_EXIT_REASON = 8, RUN_UNION = 32;
    static final int EINTR = 4;

    static final Linker LINKER = Linker.nativeLinker();
    static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    static final MethodHandle OPEN = downcall("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), true, 2);
    static final MethodHandle IOCTL = downcall("ioctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), true, 2);
    static final MethodHandle MMAP = downcall("mmap",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG), true, -1);

    static MethodHandle downcall(String name, FunctionDescriptor fd, boolean errno, int firstVariadic) {
        var options = new java.util.ArrayList<Linker.Option>();
        if (errno) options.add(Linker.Option.captureCallState("errno"));
        if (firstVariadic >= 0) options.add(Linker.Option.firstVariadicArg(firstVariadic));
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), fd, options.toArray(Linker.Option[]::new));
    }

    final Arena arena = Arena.ofConfined();
    final MemorySegment errno = arena.allocate(CAPTURE);

    int ioctl(String what, int fd, long request, long arg) throws Throwable {
        int r = (int) IOCTL.invokeExact(errno, fd, request, arg);
        if (r < 0) throw new IllegalStateException(what + " failed: errno " + (int) ERRNO.get(errno, 0L));
        return r;
    }

    MemorySegment mmap(String what, long size, int fd) throws Throwable {
        // PROT_READ|PROT_WRITE; MAP_SHARED, plus MAP_ANONYMOUS when there is no fd
        MemorySegment p = (MemorySegment) MMAP.invokeExact(errno, MemorySegment.NULL, size, 3, fd < 0 ? 0x21 : 0x01, fd, 0L);
        if (p.address() == -1L) throw new IllegalStateException(what + " mmap failed: errno " + (int) ERRNO.get(errno, 0L));
        return p.reinterpret(size);
    }

    public static void main(String[] args) throws Throwable {
        String arch = System.getProperty("os.arch");
        try {
            System.exit(new KvmSmoke().run(arch) ? 0 : 1);
        } catch (IllegalStateException e) {
            System.out.println("KvmSmoke: " + e.getMessage());
            System.exit(1);
        }
    }

    boolean run(String arch) throws Throwable {
        byte[] code = switch (arch) {
            case "amd64", "x86_64" -> x86Code();
            case "aarch64" -> aarch64Code();
            case "riscv64" -> riscv64Code();
            default -> throw new IllegalStateException("no guest code for " + arch);
        };
        int kvm = (int) OPEN.invokeExact(errno, arena.allocateFrom("/dev/kvm"), 2 | 0x80000); // O_RDWR|O_CLOEXEC
        if (kvm < 0) throw new IllegalStateException("open /dev/kvm failed: errno " + (int) ERRNO.get(errno, 0L));
        System.out.println("KvmSmoke: " + arch + ", KVM API version " + ioctl("KVM_GET_API_VERSION", kvm, KVM_GET_API_VERSION, 0));
        int vm = ioctl("KVM_CREATE_VM", kvm, KVM_CREATE_VM, 0);

        MemorySegment ram = mmap("guest RAM", PAGE, -1);
        MemorySegment.copy(code, 0, ram, JAVA_BYTE, 0, code.length);
        MemorySegment region = arena.allocate(32, 8); // slot, flags, guest_phys_addr, memory_size, userspace_addr
        region.set(JAVA_INT, 0, 0);
        region.set(JAVA_INT, 4, 0);
        region.set(JAVA_LONG, 8, RAM_GPA);
        region.set(JAVA_LONG, 16, PAGE);
        region.set(JAVA_LONG, 24, ram.address());
        ioctl("KVM_SET_USER_MEMORY_REGION", vm, KVM_SET_USER_MEMORY_REGION, region.address());

        int vcpu = ioctl("KVM_CREATE_VCPU", vm, KVM_CREATE_VCPU, 0);
        switch (arch) {
            case "aarch64" -> {
                MemorySegment init = arena.allocate(32, 4); // target, features[7]
                ioctl("KVM_ARM_PREFERRED_TARGET", vm, KVM_ARM_PREFERRED_TARGET, init.address());
                init.set(JAVA_INT, 4, init.get(JAVA_INT, 4) | 1 << 2); // KVM_ARM_VCPU_PSCI_0_2
                ioctl("KVM_ARM_VCPU_INIT", vcpu, KVM_ARM_VCPU_INIT, init.address());
                // KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | (offsetof(struct kvm_regs, regs.pc) / 4)
                setOneReg(vcpu, 0x6000000000000000L | 0x0030000000000000L | 0x0010L << 16 | (31 + 1) * 8 / 4, RAM_GPA);
            }
            // KVM_REG_RISCV | KVM_REG_SIZE_U64 | KVM_REG_RISCV_CORE | index of regs.pc (0)
            case "riscv64" -> setOneReg(vcpu, 0x8000000000000000L | 0x0030000000000000L | 0x02L << 24, RAM_GPA);
            default -> {
                MemorySegment sregs = arena.allocate(312, 8);
                ioctl("KVM_GET_SREGS", vcpu, KVM_GET_SREGS, sregs.address());
                sregs.set(JAVA_LONG, 0, RAM_GPA);                    // cs.base: real mode, code at cs:0
                sregs.set(JAVA_SHORT, 12, (short) (RAM_GPA >> 4));  // cs.selector
                ioctl("KVM_SET_SREGS", vcpu, KVM_SET_SREGS, sregs.address());
                MemorySegment regs = arena.allocate(144, 8);
                regs.set(JAVA_LONG, 128, 0);       // rip
                regs.set(JAVA_LONG, 136, 0x2);     // rflags: bit 1 is always set
                ioctl("KVM_SET_REGS", vcpu, KVM_SET_REGS, regs.address());
            }
        }

        int runSize = ioctl("KVM_GET_VCPU_MMAP_SIZE", kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
        MemorySegment run = mmap("kvm_run", runSize, vcpu);
        var written = new ByteArrayOutputStream();
        String stopped = null;
        for (int exits = 0; stopped == null && exits < 1000; exits++) {
            int r = (int) IOCTL.invokeExact(errno, vcpu, KVM_RUN, 0L);
            if (r < 0) {
                if ((int) ERRNO.get(errno, 0L) == EINTR) continue;
                throw new IllegalStateException("KVM_RUN failed: errno " + (int) ERRNO.get(errno, 0L));
            }
            int reason = run.get(JAVA_INT, RUN_EXIT_REASON);
            switch (reason) {
                case EXIT_IO -> { // direction u8, size u8, port u16, count u32, data_offset u64
                    boolean out = run.get(JAVA_BYTE, RUN_UNION) == 1;
                    int port = run.get(JAVA_SHORT, RUN_UNION + 2) & 0xffff;
                    if (!out || port != X86_PORT) throw new IllegalStateException("unexpected port access " + port);
                    written.write(run.get(JAVA_BYTE, run.get(JAVA_LONG, RUN_UNION + 8)));
                }
                case EXIT_MMIO -> { // phys_addr u64, data[8], len u32, is_write u8
                    long gpa = run.get(JAVA_LONG, RUN_UNION);
                    boolean write = run.get(JAVA_BYTE, RUN_UNION + 20) != 0;
                    if (!write || gpa != MMIO_GPA) throw new IllegalStateException("unexpected MMIO at 0x" + Long.toHexString(gpa));
                    written.write(run.get(JAVA_BYTE, RUN_UNION + 8));
                }
                case EXIT_HLT -> stopped = "HLT";
                case EXIT_SYSTEM_EVENT -> stopped = "SYSTEM_EVENT "
                        + (run.get(JAVA_INT, RUN_UNION) == SYSTEM_EVENT_SHUTDOWN ? "shutdown" : "type " + run.get(JAVA_INT, RUN_UNION));
                case EXIT_INTR -> { }
                default -> stopped = "unexpected exit reason " + reason;
            }
        }
        String text = written.toString(StandardCharsets.US_ASCII);
        System.out.println("guest wrote: \"" + text.replace("\n", "\\n") + "\"");
        System.out.println("guest stopped: " + stopped);
        String expectedStop = arch.equals("aarch64") || arch.equals("riscv64") ? "SYSTEM_EVENT shutdown" : "HLT";
        return text.equals(MESSAGE) && expectedStop.equals(stopped);
    }

    void setOneReg(int vcpu, long id, long value) throws Throwable {
        MemorySegment v = arena.allocate(JAVA_LONG);
        v.set(JAVA_LONG, 0, value);
        MemorySegment reg = arena.allocate(16, 8); // id, addr
        reg.set(JAVA_LONG, 0, id);
        reg.set(JAVA_LONG, 8, v.address());
        ioctl("KVM_SET_ONE_REG", vcpu, KVM_SET_ONE_REG, reg.address());
    }

    /** Real mode at 0x1000:0000: mov dx, 0x3f8; per byte mov al, b / out dx, al; hlt. */
    static byte[] x86Code() {
        var c = new ByteArrayOutputStream();
        c.writeBytes(new byte[] {(byte) 0xba, (byte) X86_PORT, (byte) (X86_PORT >> 8)});
        for (byte b : MESSAGE.getBytes(StandardCharsets.US_ASCII)) c.writeBytes(new byte[] {(byte) 0xb0, b, (byte) 0xee});
        c.write(0xf4);
        return c.toByteArray();
    }

    /** x0 = MMIO_GPA; per byte movz w1, b / strb w1, [x0]; x0 = PSCI SYSTEM_OFF; hvc #0; b . */
    static byte[] aarch64Code() {
        var c = new Words();
        c.add(0xd2800000 | 1 << 21 | (int) (MMIO_GPA >> 16) << 5);            // movz x0, #(MMIO_GPA >> 16), lsl #16
        for (byte b : MESSAGE.getBytes(StandardCharsets.US_ASCII)) {
            c.add(0x52800000 | (b & 0xff) << 5 | 1);                          // movz w1, #b
            c.add(0x39000000 | 1);                                            // strb w1, [x0]
        }
        c.add(0xd2800000 | 0x0008 << 5);                                      // movz x0, #0x0008
        c.add(0xf2800000 | 1 << 21 | 0x8400 << 5);                            // movk x0, #0x8400, lsl #16
        c.add(0xd4000002);                                                    // hvc #0
        c.add(0x14000000);                                                    // b .
        return c.bytes();
    }

    /** t0 = MMIO_GPA; per byte addi t1, zero, b / sb t1, 0(t0); SBI SRST shutdown via ecall; j . */
    static byte[] riscv64Code() {
        int t0 = 5, t1 = 6, a0 = 10, a1 = 11, a6 = 16, a7 = 17;
        var c = new Words();
        c.add((int) (MMIO_GPA >> 12) << 12 | t0 << 7 | 0x37);                 // lui t0, MMIO_GPA >> 12
        for (byte b : MESSAGE.getBytes(StandardCharsets.US_ASCII)) {
            c.add((b & 0xff) << 20 | t1 << 7 | 0x13);                         // addi t1, zero, b
            c.add(t1 << 20 | t0 << 15 | 0x23);                                // sb t1, 0(t0)
        }
        int eid = 0x53525354;                                                 // "SRST", fits lui + addi (low half < 0x800)
        c.add((eid >>> 12) << 12 | a7 << 7 | 0x37);                           // lui a7, eid >> 12
        c.add((eid & 0xfff) << 20 | a7 << 15 | a7 << 7 | 0x13);               // addi a7, a7, eid & 0xfff
        c.add(a6 << 7 | 0x13);                                                // addi a6, zero, 0 (function: system reset)
        c.add(a0 << 7 | 0x13);                                                // addi a0, zero, 0 (type: shutdown)
        c.add(a1 << 7 | 0x13);                                                // addi a1, zero, 0 (reason: none)
        c.add(0x00000073);                                                    // ecall
        c.add(0x0000006f);                                                    // j .
        return c.bytes();
    }

    /** Little-endian 32-bit instruction words. */
    static final class Words {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();
        void add(int w) { out.writeBytes(new byte[] {(byte) w, (byte) (w >> 8), (byte) (w >> 16), (byte) (w >> 24)}); }
        byte[] bytes() { return out.toByteArray(); }
    }
}
