package dev.nimbus.vmm;

import dev.nimbus.hypervisor.Availability;
import dev.nimbus.hypervisor.Hypervisor;
import dev.nimbus.host.SyscallException;
import dev.nimbus.hypervisor.HypervisorException;
import dev.nimbus.vmm.api.ApiHandler;
import dev.nimbus.vmm.api.ApiServer;
import dev.nimbus.vmm.config.ApiSocketConfig;
import dev.nimbus.vmm.config.ConfigException;
import dev.nimbus.vmm.config.ConsoleConfig;
import dev.nimbus.vmm.config.CpusConfig;
import dev.nimbus.vmm.config.DiskConfig;
import dev.nimbus.vmm.config.NetConfig;
import dev.nimbus.vmm.config.RngConfig;
import dev.nimbus.vmm.config.MemoryConfig;
import dev.nimbus.vmm.config.PayloadConfig;
import dev.nimbus.vmm.config.VmConfig;
import dev.nimbus.vmm.control.VmController;
import dev.nimbus.vmm.control.VmRunner;
import dev.nimbus.vmm.wiring.HypervisorChoice;
import dev.nimbus.vmm.wiring.NimbusComponent;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;

/**
 * The {@code nimbus} command. Exit codes: 0 the guest ran and powered off (or an informational option
 * such as {@code --version}), 1 the VM could not run (no usable hypervisor, a hypervisor error), 2 bad
 * input (an option, a file).
 */
@Command(name = "nimbus", mixinStandardHelpOptions = true, versionProvider = Main.VersionProvider.class,
        sortOptions = false,
        description = "A virtual machine monitor for KVM and MSHV hosts, with Cloud Hypervisor's command line.")
public final class Main implements Callable<Integer> {
    public static final int EXIT_OK = ExitCodes.OK;
    public static final int EXIT_VM_ERROR = ExitCodes.VM_ERROR;
    public static final int EXIT_USAGE = ExitCodes.USAGE;
    /** {@code --check-hypervisor}: usable, but this host emulates guest kernel code. */
    public static final int EXIT_KERNEL_EMULATED = ExitCodes.KERNEL_EMULATED;

    @Option(names = "--hypervisor", paramLabel = "auto|kvm|mshv", defaultValue = "auto",
            description = "Hypervisor backend (default: ${DEFAULT-VALUE}: KVM if usable, else MSHV).")
    String hypervisor;

    @Option(names = "--firmware", paramLabel = "PATH", description = "Firmware to boot instead of a kernel (not supported yet).")
    String firmware;

    @Option(names = "--kernel", paramLabel = "PATH", description = "Kernel image to boot.")
    String kernel;

    @Option(names = "--initramfs", paramLabel = "PATH", description = "Initramfs image.")
    String initramfs;

    @Option(names = "--cmdline", paramLabel = "STRING", description = "Kernel command line.")
    String cmdline;

    @Option(names = "--cpus", paramLabel = "boot=N[,max=N]", description = "vCPUs (max equal to boot: no hot-plug yet).")
    String cpus;

    @Option(names = "--memory", paramLabel = "size=SIZE", description = "Guest RAM, such as size=512M or size=2G.")
    String memory;

    @Option(names = "--serial", paramLabel = "tty|off|null|file=PATH", description = "Serial port.")
    String serial;

    @Option(names = "--console", paramLabel = "tty|off|null|file=PATH", description = "virtio console (default: tty).")
    String console;

    @Option(names = "--disk", arity = "1..*", paramLabel = "path=PATH[,readonly=on][,direct=on][,num_queues=N][,queue_size=N][,id=ID][,serial=S]",
            description = "virtio-blk disks on raw images, one value each (direct=on and num_queues above 1 are refused: not supported yet).")
    List<String> disks = new ArrayList<>();

    @Option(names = "--net", arity = "1..*", paramLabel = "tap=NAME,ip=IP,mask=MASK,mac=MAC[,host_mac=MAC][,mtu=N][,num_queues=N][,queue_size=N][,id=ID]",
            description = "virtio-net interfaces on taps, one value each (a tap Nimbus creates, or tap%d; host_mac and mtu are refused: not supported yet).")
    List<String> nets = new ArrayList<>();

    @Option(names = "--rng", paramLabel = "src=PATH", description = "virtio-rng with this entropy source (default /dev/urandom).")
    String rng;

    @Option(names = "--api-socket", paramLabel = "path=PATH",
            description = "Serve the REST API (Cloud Hypervisor's /api/v1) on a Unix socket, mode 0600. Without --kernel the VMM waits for vm.create and vm.boot; it runs until vmm.shutdown.")
    String apiSocket;

    @Option(names = "--check-hypervisor",
            description = "Say whether the chosen hypervisor can run VMs here and at what speed, then exit: 0 usable, "
                    + "3 usable but guest kernel code is emulated (measured), 1 not usable.")
    boolean checkHypervisor;

    @Option(names = "-v", description = "More log output: -v info (boot progress), -vv debug, -vvv everything.")
    boolean[] verbose = new boolean[0];

    @Option(names = "--log-file", paramLabel = "PATH", description = "Write the log to PATH instead of standard error.")
    String logFile;

    private final PrintWriter out;
    private final PrintWriter err;

    Main(PrintWriter out, PrintWriter err) {
        this.out = out;
        this.err = err;
    }

    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the command line and returns the exit code; the entry point for tests too. */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cl = new CommandLine(new Main(out, err));
        cl.setOut(out);
        cl.setErr(err);
        cl.setExitCodeExceptionMapper(t -> t instanceof CommandLine.ParameterException ? EXIT_USAGE : EXIT_VM_ERROR);
        cl.setParameterExceptionHandler((e, a) -> {
            err.println("nimbus: " + e.getMessage());
            err.println("Try 'nimbus --help' for the options.");
            return EXIT_USAGE;
        });
        return cl.execute(args);
    }

    @Override
    public Integer call() {
        HypervisorChoice choice;
        try {
            choice = new HypervisorChoice(hypervisor);
        } catch (IllegalArgumentException e) {
            err.println("nimbus: " + e.getMessage());
            return EXIT_USAGE;
        }
        if (checkHypervisor) {
            return checkHypervisor(choice);
        }
        VmConfig config = null;
        ApiSocketConfig api = null;
        try {
            if (apiSocket != null) {
                api = ApiSocketConfig.parse(apiSocket);
            }
            if (api == null || kernel != null) {
                config = new VmConfig(
                        cpus == null ? CpusConfig.DEFAULT : CpusConfig.parse(cpus),
                        memory == null ? MemoryConfig.DEFAULT : MemoryConfig.parse(memory),
                        PayloadConfig.of(kernel, initramfs, cmdline),
                        serial == null ? ConsoleConfig.of(ConsoleConfig.Mode.NULL) : ConsoleConfig.parse("--serial", serial),
                        console == null ? ConsoleConfig.of(ConsoleConfig.Mode.TTY) : ConsoleConfig.parse("--console", console),
                        parseAll(disks, DiskConfig::parse), parseAll(nets, NetConfig::parse),
                        rng == null ? Optional.empty() : Optional.of(RngConfig.parse(rng)),
                        firmware == null ? Optional.empty() : Optional.of(PayloadConfig.firmware(firmware)));
            }
            Logging.configure(verbose.length, logFile == null ? null : Path.of(logFile));
        } catch (ConfigException e) {
            err.println("nimbus: " + e.getMessage());
            return EXIT_USAGE;
        } catch (IOException e) {
            err.println("nimbus: --log-file: cannot write " + logFile + ": " + e.getMessage());
            return EXIT_USAGE;
        }
        // the backend is chosen once the input is known to be good: a typo is exit 2 on any host
        NimbusComponent component = NimbusComponent.create(choice);
        try {
            Availability a = component.hypervisor().availability();
            if (a.kernelEmulated()) {
                // before any vCPU runs: the user should know why the guest will crawl or stop
                err.println("nimbus: warning: " + a.summary());
            }
        } catch (HypervisorException | SyscallException e) {
            err.println("nimbus: " + e.getMessage());
            return EXIT_VM_ERROR;
        }
        try (VmController controller = component.vmController()) {
            if (api == null) {
                return VmRunner.run(controller, config, err);
            }
            return serve(controller, api, config);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return EXIT_VM_ERROR;
        }
    }

    /** {@code --check-hypervisor}: one line on standard output, and the exit code says the kind. */
    private int checkHypervisor(HypervisorChoice choice) {
        Hypervisor h;
        try {
            h = NimbusComponent.create(choice).hypervisor();
        } catch (HypervisorException | SyscallException e) {
            out.println("nimbus: " + e.getMessage());
            return EXIT_VM_ERROR;
        }
        Availability a = h.availability();
        out.println(h.name() + ": " + switch (a.kind()) {
            case USABLE -> "usable: " + a.reason();
            case KERNEL_EMULATED -> "usable, but " + a.summary();
            case UNUSABLE -> "not usable: " + a.reason();
        });
        return switch (a.kind()) {
            case USABLE -> EXIT_OK;
            case KERNEL_EMULATED -> EXIT_KERNEL_EMULATED;
            case UNUSABLE -> EXIT_VM_ERROR;
        };
    }

    private interface Parser<T> {
        T parse(String text) throws ConfigException;
    }

    private static <T> List<T> parseAll(List<String> values, Parser<T> parser) throws ConfigException {
        List<T> out = new ArrayList<>();
        for (String v : values) {
            out.add(parser.parse(v));
        }
        return out;
    }

    /** Serves the REST API until vmm.shutdown; boots {@code config} first when the command line gave one. */
    private int serve(VmController controller, ApiSocketConfig api, VmConfig config) throws InterruptedException {
        ApiServer server;
        try {
            server = ApiServer.start(api.path(), new ApiHandler(controller));
        } catch (IOException e) {
            err.println("nimbus: --api-socket path: cannot listen on " + api.path() + ": " + e.getMessage());
            return EXIT_USAGE;
        }
        try (server) {
            if (config != null) {
                try {
                    controller.create(config);
                    controller.boot();
                } catch (dev.nimbus.vmm.control.ControlException e) {
                    err.println("nimbus: " + e.getMessage());
                    return ExitCodes.of(e);
                }
            }
            controller.awaitVmmShutdown();
            return EXIT_OK;
        }
    }

    /** Supplies {@code --version}. */
    static final class VersionProvider implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"nimbus " + Version.get()};
        }
    }
}
