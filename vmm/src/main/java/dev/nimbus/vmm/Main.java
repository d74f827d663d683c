package dev.nimbus.vmm;

import dev.nimbus.hypervisor.Availability;
import dev.nimbus.hypervisor.Hypervisor;
import dev.nimbus.host.InheritedSocket;
import dev.nimbus.host.Landlock;
import dev.nimbus.host.Seccomp;
import dev.nimbus.host.SyscallException;
import dev.nimbus.hypervisor.HypervisorException;
import dev.nimbus.vmm.api.ApiHandler;
import dev.nimbus.vmm.api.ApiServer;
import dev.nimbus.vmm.config.ApiSocketConfig;
import dev.nimbus.vmm.config.CommandLineConfig;
import dev.nimbus.vmm.config.ConfigException;
import dev.nimbus.vmm.config.Field;
import dev.nimbus.vmm.config.RestoreConfig;
import dev.nimbus.vmm.config.Schema;
import dev.nimbus.vmm.config.Section;
import dev.nimbus.vmm.config.Type;
import dev.nimbus.vmm.snapshot.Snapshot;
import dev.nimbus.vmm.snapshot.SnapshotException;
import dev.nimbus.vmm.config.VmConfig;
import dev.nimbus.vmm.control.VmController;
import dev.nimbus.vmm.control.VmRunner;
import dev.nimbus.vmm.sandbox.FileSandbox;
import dev.nimbus.vmm.sandbox.SyscallPolicy;
import dev.nimbus.vmm.wiring.HypervisorChoice;
import dev.nimbus.vmm.wiring.NimbusComponent;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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

    @Option(names = "--check-hypervisor",
            description = "Say whether the chosen hypervisor can run VMs here and at what speed, then exit: 0 usable, "
                    + "3 usable but guest kernel code is emulated (measured), 1 not usable.")
    boolean checkHypervisor;

    @Option(names = "-v", description = "More log output: -v info (boot progress), -vv debug, -vvv everything.")
    boolean[] verbose = new boolean[0];

    @Option(names = "--log-file", paramLabel = "PATH", description = "Write the log to PATH instead of standard error.")
    String logFile;

    @Option(names = "--seccomp", paramLabel = "true|false|log", defaultValue = "true",
            description = "Filter the system calls of the vCPU, virtio worker and REST API threads (default: ${DEFAULT-VALUE}): "
                    + "true ends the VMM, naming the call, when one makes a call its list does not have; log logs such "
                    + "a call once and lets it run; false filters nothing.")
    String seccomp;

    private final PrintWriter out;
    private final PrintWriter err;
    private CommandSpec spec;

    Main(PrintWriter out, PrintWriter err) {
        this.out = out;
        this.err = err;
    }

    /**
     * Whether this JVM is the VMM's own process ({@link #main}), which may filter its threads; a caller of
     * {@link #run} in a JVM of its own (a test) shares it, so its threads are not filtered.
     */
    private static volatile boolean ownProcess;

    public static void main(String[] args) {
        ownProcess = true;
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the command line and returns the exit code; the entry point for tests too. */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        Main main = new Main(out, err);
        CommandLine cl = new CommandLine(main);
        main.spec = cl.getCommandSpec();
        addSchemaOptions(main.spec);
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
        Seccomp.Mode seccompMode = switch (seccomp) {
            case "true" -> Seccomp.Mode.ENFORCE;
            case "log" -> Seccomp.Mode.LOG;
            case "false" -> Seccomp.Mode.OFF;
            default -> null;
        };
        if (seccompMode == null) {
            err.println("nimbus: --seccomp: '" + seccomp + "' is not one of true, false, log");
            return EXIT_USAGE;
        }
        VmConfig config = null;
        ApiSocketConfig api = null;
        RestoreConfig restore = null;
        Snapshot.Saved saved = null;
        try {
            List<String> restoreGiven = given("--restore");
            if (!restoreGiven.isEmpty()) {
                restore = RestoreConfig.parse(restoreGiven.getFirst());
                for (OptionSpec o : spec.options()) {
                    if ((o.userObject() instanceof Section s && s != Schema.RESTORE && s != Schema.API_SOCKET
                            || o.userObject() instanceof Field<?>) && !given(o.longestName()).isEmpty()) {
                        throw new ConfigException("--restore: the VM's configuration comes from the snapshot; " + o.longestName()
                                + " cannot be given with it");
                    }
                }
                try {
                    // the snapshot is input like any other: read and checked before a backend is chosen
                    saved = Snapshot.read(restore.directory());
                    Snapshot.checkHostFiles(saved, Path.of("/sys/class/net"));
                } catch (SnapshotException e) {
                    throw new ConfigException("--restore: " + e.getMessage());
                }
            }
            List<String> apiSocket = given("--api-socket");
            if (!apiSocket.isEmpty()) {
                api = ApiSocketConfig.parse(apiSocket.getFirst());
                String fdProblem = api.fd().isPresent() ? InheritedSocket.problem(api.fd().getAsInt()) : null;
                if (fdProblem != null) {
                    // before any backend: a supervisor's mistake is bad input on any host
                    throw new ConfigException("--api-socket fd: " + fdProblem);
                }
            }
            if (restore == null && (api == null || !given("--kernel").isEmpty())) {
                Map<String, List<String>> values = new HashMap<>();
                for (OptionSpec o : spec.options()) {
                    if (o.userObject() instanceof Section || o.userObject() instanceof Field<?>) {
                        values.put(o.longestName(), given(o.longestName()));
                    }
                }
                config = CommandLineConfig.read(values);
            }
            Logging.configure(verbose.length, logFile == null ? null : Path.of(logFile));
            if (verbose.length > 0 && (config == null || !config.landlock().enabled())) {
                // once, at -v: whether --landlock could be used here (with --landlock, a kernel without it was exit 2)
                int abi = Landlock.abiVersion();
                System.getLogger(Main.class.getName()).log(System.Logger.Level.INFO, abi > 0
                        ? "Landlock: ABI " + abi + " (off; --landlock turns it on)"
                        : "Landlock: this kernel has none (not built in, or not in lsm=); --landlock would be refused");
            }
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
        // from this thread, which stays unfiltered: the threads that join later take their kind's filter
        if (ownProcess) {
            Seccomp.enforce(seccompMode, SyscallPolicy.filters(component.hypervisor()));
        }
        System.getLogger(Main.class.getName()).log(System.Logger.Level.INFO, "seccomp: " + switch (Seccomp.mode()) {
            case ENFORCE -> "vCPU, virtio worker and REST API threads filtered (a forbidden call ends the VMM)";
            case LOG -> "vCPU, virtio worker and REST API threads filtered in log mode (a forbidden call is logged and runs)";
            case OFF -> "off (--seccomp false)";
        });
        try (VmController controller = component.vmController()) {
            controller.processFiles(new FileSandbox.ProcessFiles(Optional.ofNullable(api).flatMap(ApiSocketConfig::path),
                    Optional.ofNullable(logFile).map(Path::of)));
            if (api == null) {
                // with nothing to send vm.resume, a restored guest runs at once
                return restore != null ? VmRunner.restore(controller, restore, saved, err) : VmRunner.run(controller, config, err);
            }
            return serve(controller, api, config, restore, saved);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return EXIT_VM_ERROR;
        }
    }

    /**
     * Declares the options of the configuration {@link Schema}: one per section ({@code --disk}), one per field
     * of a section of one-value options ({@code --kernel}); those Nimbus does not build yet are hidden from
     * the help and refused by name when given. Each keeps its section or field as its user object.
     */
    private static void addSchemaOptions(CommandSpec spec) {
        for (Section s : Schema.SECTIONS) {
            if (s.option().isPresent()) {
                // a section with nothing built (--platform) is accepted at its defaults, not offered in the help
                OptionSpec.Builder o = OptionSpec.builder(s.option().get()).paramLabel(s.paramLabel())
                        .description(s.description()).userObject(s).hidden(s.fields().stream().allMatch(Field::isNotYet));
                spec.addOption((s.isList() ? o.type(List.class).auxiliaryTypes(String.class).arity("1..*") : o.type(String.class))
                        .build());
                continue;
            }
            for (Field<?> f : s.fields()) {
                if (f.cli().isEmpty()) {
                    continue;
                }
                spec.addOption(OptionSpec.builder(f.cli().get()).paramLabel(f.type().label())
                        .description(f.isNotYet() ? "Not supported yet." : f.help()).hidden(f.isNotYet())
                        .type(String.class).arity(f.isNotYet() || f.type() == Type.FLAG ? "0..1" : "1").userObject(f).build());
            }
        }
    }

    /**
     * The values given to a schema option, in order: none, one, or (for a device option) one per device. An
     * option given without a value ({@code --landlock}) gives an empty string.
     */
    private List<String> given(String option) {
        OptionSpec o = spec.findOption(option);
        Object value = o.getValue();
        if (value instanceof List<?> values) {
            return values.stream().map(v -> v == null ? "" : v.toString()).toList();
        }
        if (value != null) {
            return List.of(value.toString());
        }
        return o.arity().min() == 0 && spec.commandLine().getParseResult().hasMatchedOption(option) ? List.of("") : List.of();
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

    /** Serves the REST API until vmm.shutdown; boots {@code config} first when the command line gave one. */
    private int serve(VmController controller, ApiSocketConfig api, VmConfig config, RestoreConfig restore,
                      Snapshot.Saved saved) throws InterruptedException {
        ApiServer server;
        if (api.fd().isPresent()) {
            try {
                server = ApiServer.adopt(api.fd().getAsInt(), new ApiHandler(controller));
            } catch (IOException | SyscallException e) {
                err.println("nimbus: --api-socket fd: " + e.getMessage());
                return EXIT_USAGE;
            }
        } else {
            try {
                server = ApiServer.start(api.path().orElseThrow(), new ApiHandler(controller));
            } catch (IOException e) {
                err.println("nimbus: --api-socket path: cannot listen on " + api.path().orElseThrow() + ": " + e.getMessage());
                return EXIT_USAGE;
            }
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
            if (restore != null) {
                try {
                    controller.restore(restore, saved); // paused unless resume=on: vm.resume continues it
                } catch (dev.nimbus.vmm.control.ControlException e) {
                    err.println("nimbus: --restore: " + e.getMessage());
                    return ExitCodes.of(e);
                }
            }
            Landlock.joinEnforced(); // the main thread, once a VM is booted under --landlock
            controller.awaitVmmShutdown();
            Landlock.joinEnforced();
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
