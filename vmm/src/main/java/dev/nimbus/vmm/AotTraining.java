package dev.nimbus.vmm;

import dev.nimbus.vmm.remote.RemoteMain;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The training run of the distribution's AOT cache (JDK 25's {@code -XX:AOTCacheOutput}): a start of the
 * VMM as users start it, run once at build time so that the classes it loads, links and profiles come from
 * the cache afterwards. The build host may have no usable {@code /dev/kvm}, so the only guest it boots is one
 * of four instructions, and only where it can:
 * <ul>
 *   <li>{@code --help} and {@code --version} (the option schema, picocli);</li>
 *   <li>a complete command line (virtio-blk, virtio-rng, virtio-console) through the configuration, logging,
 *       the Dagger graph, the hypervisor's probe, the machine and its devices, booting a kernel of four
 *       instructions ({@link #powerOffKernel}: it writes ACPI's S5 to the sleep control port and halts),
 *       so the vCPU loop and the power-off path run too, on x86-64 hosts with a usable {@code /dev/kvm}
 *       (elsewhere the run stops earlier: at the probe without {@code /dev/kvm}, exit 1; at the kernel on
 *       other architectures, exit 2);</li>
 *   <li>the REST API on a Unix socket in this process, driven by {@code nimbus-remote}: ping, a VmConfig
 *       created, read back with vm.info, deleted, and vmm.shutdown (Jetty's server and client, Jackson).</li>
 * </ul>
 * What the VMM prints is discarded; each step's exit code is printed, and whatever it is, the training goes on.
 */
public final class AotTraining {
    private AotTraining() {
    }

    /** The training run; {@code --write-kernel PATH} only writes {@link #powerOffKernel} to PATH (for benchmarks). */
    public static void main(String[] args) throws Exception {
        if (args.length == 2 && args[0].equals("--write-kernel")) {
            Files.write(Path.of(args[1]), powerOffKernel());
            return;
        }
        // a training run must never hold up a build
        Thread.ofPlatform().daemon(true).start(() -> {
            try {
                Thread.sleep(TimeUnit.SECONDS.toMillis(120));
            } catch (InterruptedException e) {
                return;
            }
            System.err.println("nimbus AOT training: still running after 120 s; stopping it");
            Runtime.getRuntime().halt(1);
        });
        Path dir = Files.createTempDirectory("nimbus-aot-training");
        try {
            train(dir);
        } finally {
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        System.exit(0);
    }

    private static void train(Path dir) throws Exception {
        Path kernel = Files.write(dir.resolve("vmlinux"), powerOffKernel());
        Path disk = Files.write(dir.resolve("disk.img"), new byte[1 << 20]);
        nimbus("--help");
        nimbus("--version");
        nimbus("--kernel", kernel.toString(), "--cmdline", "console=ttyS0 reboot=k panic=1",
                "--cpus", "boot=2", "--memory", "size=64M", "--disk", "path=" + disk + ",readonly=on",
                "--rng", "src=/dev/urandom", "--serial", "off", "--console", "null", "--seccomp", "false");

        Path socket = dir.resolve("api.sock");
        Thread server = Thread.ofPlatform().start(() -> nimbus("--api-socket", "path=" + socket));
        for (int i = 0; i < 200 && !Files.exists(socket); i++) {
            Thread.sleep(25);
        }
        Path vmConfig = Files.writeString(dir.resolve("vm.json"), """
                {"payload": {"kernel": "%s", "cmdline": "console=ttyS0"},
                 "cpus": {"boot_vcpus": 1, "max_vcpus": 1},
                 "memory": {"size": 67108864},
                 "disks": [{"path": "%s", "readonly": true}],
                 "rng": {"src": "/dev/urandom"},
                 "serial": {"mode": "Null"}, "console": {"mode": "Off"}}
                """.formatted(kernel, disk));
        remote(socket, "ping");
        remote(socket, "create", vmConfig.toString());
        remote(socket, "info");
        remote(socket, "counters");
        remote(socket, "delete");
        remote(socket, "shutdown-vmm");
        server.join(TimeUnit.SECONDS.toMillis(30));
    }

    /**
     * An x86-64 ELF kernel with a PVH entry note (Xen's PHYS32_ENTRY) whose code, entered in 32-bit protected
     * mode, asks for power-off the way Linux does on Nimbus's hardware-reduced ACPI: {@code _S5} with SLP_EN
     * (0x34) to the sleep control register at port 0x600, then halts.
     */
    static byte[] powerOffKernel() {
        final int load = 0x100_0000;
        final int notes = 0x100;
        final int code = 0x200;
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(0x1000).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1});
        b.putShort(16, (short) 2).putShort(18, (short) 62).putInt(20, 1)                 // ET_EXEC, EM_X86_64
                .putLong(24, load + code).putLong(32, 64).putShort(52, (short) 64)       // entry, phoff, ehsize
                .putShort(54, (short) 56).putShort(56, (short) 2);                        // phentsize, phnum
        // PT_LOAD: the whole file at 16 MiB; PT_NOTE: the PVH entry
        b.putInt(64, 1).putInt(68, 5).putLong(72, 0).putLong(80, load).putLong(88, load)
                .putLong(96, 0x1000).putLong(104, 0x1000).putLong(112, 0x1000);
        b.putInt(120, 4).putInt(124, 4).putLong(128, notes).putLong(152, 24).putLong(160, 24).putLong(168, 4);
        b.position(notes);
        b.putInt(4).putInt(8).putInt(18).put(new byte[] {'X', 'e', 'n', 0}).putLong(load + code);
        // mov dx, 0x600; mov al, 0x34; out dx, al; 1: hlt; jmp 1b
        b.position(code);
        b.put(new byte[] {0x66, (byte) 0xba, 0x00, 0x06, (byte) 0xb0, 0x34, (byte) 0xee, (byte) 0xf4, (byte) 0xeb, (byte) 0xfd});
        return b.array();
    }

    private static void nimbus(String... args) {
        StringWriter err = new StringWriter();
        int exit = Main.run(args, discard(), new PrintWriter(err, true));
        String last = err.toString().strip().lines().reduce((a, b) -> b).orElse("");
        System.out.println("nimbus " + args[0] + " ...: exit " + exit + (exit == 0 ? "" : " (" + last + ")"));
    }

    private static void remote(Path socket, String... command) {
        List<String> args = new ArrayList<>(List.of("--api-socket", socket.toString()));
        args.addAll(List.of(command));
        int exit = RemoteMain.run(args.toArray(String[]::new), discard(), discard());
        System.out.println("nimbus-remote " + command[0] + ": exit " + exit);
    }

    private static PrintWriter discard() {
        return new PrintWriter(java.io.Writer.nullWriter());
    }
}
