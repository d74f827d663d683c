package dev.nimbus.api;

import dev.nimbus.host.SyscallException;
import dev.nimbus.hypervisor.Availability;
import dev.nimbus.hypervisor.Hypervisor;
import dev.nimbus.hypervisor.HypervisorException;
import dev.nimbus.vmm.config.CommandLineConfig;
import dev.nimbus.vmm.config.ConfigException;
import dev.nimbus.vmm.config.ConsoleConfig;
import dev.nimbus.vmm.config.DiskConfig;
import dev.nimbus.vmm.config.VmConfig;
import dev.nimbus.vmm.control.ControlException;
import dev.nimbus.vmm.control.RunOutcome;
import dev.nimbus.vmm.control.VmController;
import dev.nimbus.vmm.control.VmInfo;
import dev.nimbus.vmm.wiring.HypervisorChoice;
import dev.nimbus.vmm.wiring.NimbusComponent;

import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A Linux microVM inside this Java process, on the host's KVM (or MSHV): the same VMM the {@code nimbus}
 * command runs, driven through the same control plane, with its consoles as Java streams.
 *
 * <pre>{@code
 * try (MicroVm vm = MicroVm.builder()
 *         .kernel(Path.of("vmlinux")).initramfs(Path.of("initrd.img"))
 *         .cmdline("console=ttyS0 quiet").cpus(2).memoryMib(512)
 *         .disk(Path.of("data.raw"))
 *         .start()) {
 *     vm.serial().awaitLine("login:|# ", Duration.ofSeconds(30));
 * }
 * }</pre>
 *
 * <p>Life: {@link Builder#build()} checks the configuration (a {@link VmStatus#CREATED} VM, nothing running
 * yet); {@link #start()} builds the machine and runs its vCPUs; {@link #pause()}, {@link #resume()} and
 * {@link #shutdown()} are {@code vm.pause}, {@code vm.resume} and {@code vm.shutdown}; a guest reboot builds a
 * fresh machine from the same configuration; {@link #exit()} completes when a run ends. {@link #close()}
 * releases everything: the vCPU and device threads, the guest memory, the files, taps and file descriptors.
 *
 * <p>Threads: every method may be called from any thread; requests are carried out one at a time on the VM's
 * control thread and the caller waits for each. Failures are {@link NimbusException}s with the messages the
 * command line prints.
 */
public final class MicroVm implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(MicroVm.class.getName());

    private final NimbusComponent component;
    private final VmController controller;
    private final StreamConsoles consoles;
    private final VmConfig config;
    // the latest run's end: replaced by each start
    private volatile CompletableFuture<ExitReason> exit = new CompletableFuture<>();
    private volatile boolean closed;

    private MicroVm(NimbusComponent component, VmController controller, StreamConsoles consoles, VmConfig config) {
        this.component = component;
        this.controller = controller;
        this.consoles = consoles;
        this.config = config;
    }

    /**
     * A builder of a VM; {@link Builder#kernel(Path)} is the one thing it needs.
     *
     * @return a new builder with the command line's defaults
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Whether {@code hypervisor} ({@code kvm}, {@code mshv}, or {@code auto} for the first usable one) runs
     * guests here at hardware speed. It opens the device and, for KVM on x86-64, measures guest kernel code
     * once per process (some hosts' {@code /dev/kvm} emulates it, so a boot would take many minutes).
     *
     * @param hypervisor {@code kvm}, {@code mshv} or {@code auto}
     * @return whether it is usable, and what was found
     */
    public static HypervisorStatus hypervisorStatus(String hypervisor) {
        HypervisorChoice choice;
        try {
            choice = new HypervisorChoice(hypervisor);
        } catch (IllegalArgumentException e) {
            return new HypervisorStatus(hypervisor, false, e.getMessage());
        }
        try {
            Hypervisor h = NimbusComponent.create(choice).hypervisor();
            Availability a = h.availability();
            return new HypervisorStatus(h.name(), a.kind() == Availability.Kind.USABLE, a.summary());
        } catch (HypervisorException | SyscallException e) {
            return new HypervisorStatus(hypervisor, false, e.getMessage());
        }
    }

    /**
     * Builds the machine and starts its vCPUs ({@code vm.boot}); again after the guest powered off or
     * {@link #shutdown()}, a fresh boot.
     *
     * @return this VM
     * @throws HypervisorUnavailableException when the hypervisor cannot run guests here
     * @throws InvalidConfigException         when the kernel or initramfs cannot be loaded, or a disk or tap
     *                                        cannot be opened; nothing is left running
     * @throws VmStateException               when the VM runs already, or was closed
     */
    public MicroVm start() {
        requireOpen();
        Hypervisor h;
        try {
            h = component.hypervisor();
        } catch (HypervisorException | SyscallException e) {
            throw new HypervisorUnavailableException(e.getMessage(), e);
        }
        Availability a = h.availability();
        if (a.kind() == Availability.Kind.UNUSABLE) {
            throw new HypervisorUnavailableException(h.name() + " is not usable: " + a.reason(), null);
        }
        if (a.kernelEmulated()) {
            LOG.log(Level.WARNING, a.summary());
        }
        run(controller::boot);
        CompletableFuture<ExitReason> thisRun = exit.isDone() ? new CompletableFuture<>() : exit;
        exit = thisRun;
        controller.runEnd().thenAccept(outcome -> thisRun.complete(switch (outcome) {
            case RunOutcome.PoweredOff p -> new ExitReason.PoweredOff(p.how());
            case RunOutcome.Failed f -> new ExitReason.Failed(f.message());
            case RunOutcome.RebootLoop r -> new ExitReason.RebootLoop(r.reboots());
        }));
        return this;
    }

    /**
     * Parks every vCPU ({@code vm.pause}).
     *
     * @throws VmStateException unless the VM is running
     */
    public void pause() {
        requireOpen();
        run(controller::pause);
    }

    /**
     * Runs the parked vCPUs again ({@code vm.resume}).
     *
     * @throws VmStateException unless the VM is paused
     */
    public void resume() {
        requireOpen();
        run(controller::resume);
    }

    /**
     * Stops the guest at once, as pulling the plug ({@code vm.shutdown}), and releases its machine; the
     * configuration stays for another {@link #start()}. {@link #exit()} completes with
     * {@code PoweredOff("vm.shutdown")}. For a clean shutdown, ask the guest (its console, or
     * {@link #pressPowerButton()}).
     */
    public void shutdown() {
        requireOpen();
        run(controller::shutdown);
    }

    /** Presses the ACPI power button ({@code vm.power-button}; x86-64): the guest decides what to do. */
    public void pressPowerButton() {
        requireOpen();
        run(controller::powerButton);
    }

    /**
     * The VM's status and configuration ({@code vm.info}).
     *
     * @return the status and configuration
     */
    public VmDescription info() {
        if (closed) {
            return describe(VmStatus.CLOSED);
        }
        VmInfo info = call(controller::info);
        return describe(switch (info.state()) {
            case CREATED -> VmStatus.CREATED;
            case RUNNING -> VmStatus.RUNNING;
            case PAUSED -> VmStatus.PAUSED;
            case SHUTDOWN -> VmStatus.SHUTDOWN;
        });
    }

    /**
     * Per device, what it counted ({@code vm.counters}): the virtio devices by id ({@code _disk0},
     * {@code _net0}, {@code _rng}) with bytes and operations, the platform devices with their register
     * accesses. Empty before the first {@link #start()}.
     *
     * @return per device, its counters by name
     */
    public Map<String, Map<String, Long>> counters() {
        requireOpen();
        return call(controller::counters);
    }

    /**
     * The serial port's console ({@code ttyS0} on x86-64, {@code ttyAMA0} on AArch64).
     *
     * @return the serial console
     */
    public Console serial() {
        return consoles.serial();
    }

    /**
     * The virtio console ({@code hvc0}); present unless {@link Builder#virtioConsole(boolean)} turned it off.
     *
     * @return the virtio console, or empty when the VM has none
     */
    public Optional<Console> virtioConsole() {
        return config.console().mode() == ConsoleConfig.Mode.OFF ? Optional.empty() : Optional.of(consoles.virtio());
    }

    /**
     * Completes when the latest run that {@link #start()} began ends: the guest powers off, {@link #shutdown()}
     * or {@link #close()} stops it, or it fails (the message says why, with a failed vCPU's registers). A guest
     * reboot does not end a run. Before the first start, the future of the first run.
     *
     * @return a future of how the run ended; completing it changes nothing
     */
    public CompletableFuture<ExitReason> exit() {
        return exit.copy();
    }

    /**
     * Waits for the run to end ({@link #exit()}) and returns how it ended.
     *
     * @param timeout how long to wait at most
     * @return how the run ended
     * @throws VmStateException when it has not ended within {@code timeout} (the VM keeps running)
     */
    public ExitReason awaitExit(Duration timeout) {
        try {
            return exit.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new VmStateException("the VM is still running after " + timeout.toMillis() + " ms", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new VmStateException("interrupted while waiting for the VM to end", e);
        } catch (ExecutionException e) {
            throw new VmFailedException(String.valueOf(e.getCause()), e.getCause());
        }
    }

    /**
     * Stops the VM if it runs and releases all it holds: its vCPU, device and control threads, guest memory,
     * open files, taps. The consoles end (their readers see the end of the stream). Calling it again does
     * nothing.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        controller.close();
        exit.complete(new ExitReason.PoweredOff("closed"));
        consoles.end();
    }

    private VmDescription describe(VmStatus status) {
        return new VmDescription(status, config.cpus().boot(), config.memory().size(), config.payload().kernel(),
                config.payload().initramfs(), config.payload().cmdline(),
                config.disks().stream().map(DiskConfig::path).toList());
    }

    private void requireOpen() {
        if (closed) {
            throw new VmStateException("the VM is closed", null);
        }
    }

    private interface Request<T> {
        T run() throws ControlException;
    }

    private interface Action {
        void run() throws ControlException;
    }

    private static void run(Action action) {
        call(() -> {
            action.run();
            return null;
        });
    }

    private static <T> T call(Request<T> request) {
        try {
            return request.run();
        } catch (ControlException e) {
            throw switch (e.kind()) {
                case BAD_REQUEST -> new InvalidConfigException(e.getMessage(), e);
                case NO_VM, WRONG_STATE -> new VmStateException(e.getMessage(), e);
                case INTERNAL -> new VmFailedException(e.getMessage(), e);
            };
        }
    }

    /**
     * A VM's configuration, with the command line's fields and checks: each setter corresponds to a
     * {@code nimbus} option, and a bad value fails {@link #build()} with the message the command line prints
     * for it. Not thread-safe; build once per VM.
     */
    public static final class Builder {
        private Path kernel;
        private Path initramfs;
        private String cmdline;
        private Integer cpus;
        private String memory;
        private final List<String> disks = new ArrayList<>();
        private final List<String> nets = new ArrayList<>();
        private String rng;
        private boolean serial = true;
        private boolean virtioConsole = true;
        private String hypervisor = "auto";
        private final Map<String, List<String>> options = new LinkedHashMap<>();

        private Builder() {}

        /**
         * The kernel ({@code --kernel}): an uncompressed {@code vmlinux} (PVH) or a bzImage on x86-64, an Image on AArch64 and riscv64.
         *
         * @param kernel the kernel image file
         * @return this builder
         */
        public Builder kernel(Path kernel) {
            this.kernel = Objects.requireNonNull(kernel, "kernel");
            return this;
        }

        /**
         * The initramfs ({@code --initramfs}).
         *
         * @param initramfs the initramfs file
         * @return this builder
         */
        public Builder initramfs(Path initramfs) {
            this.initramfs = Objects.requireNonNull(initramfs, "initramfs");
            return this;
        }

        /**
         * The kernel command line ({@code --cmdline}), e.g. {@code console=ttyS0 quiet}.
         *
         * @param cmdline the command line
         * @return this builder
         */
        public Builder cmdline(String cmdline) {
            this.cmdline = Objects.requireNonNull(cmdline, "cmdline");
            return this;
        }

        /**
         * How many vCPUs boot ({@code --cpus boot=N}; default 1).
         *
         * @param cpus the number of vCPUs, 1 to 255
         * @return this builder
         */
        public Builder cpus(int cpus) {
            this.cpus = cpus;
            return this;
        }

        /**
         * Guest RAM in MiB ({@code --memory size=NM}; default 512).
         *
         * @param mib the size in MiB
         * @return this builder
         */
        public Builder memoryMib(long mib) {
            this.memory = "size=" + mib + "M";
            return this;
        }

        /**
         * Guest RAM as {@code --memory} takes it: {@code size=1G,hugepages=on}...
         *
         * @param options the option's value, in the command line's syntax
         * @return this builder
         */
        public Builder memory(String options) {
            this.memory = Objects.requireNonNull(options, "memory");
            return this;
        }

        /**
         * A virtio-blk disk on an image file, read-write ({@code --disk path=FILE}).
         *
         * @param image the disk image file
         * @return this builder
         */
        public Builder disk(Path image) {
            return disk(image, false);
        }

        /**
         * A virtio-blk disk on an image file ({@code --disk path=FILE,readonly=on|off}).
         *
         * @param image the disk image file
         * @param readOnly true for a read-only disk
         * @return this builder
         */
        public Builder disk(Path image, boolean readOnly) {
            Objects.requireNonNull(image, "image");
            return disk("path=" + image + (readOnly ? ",readonly=on" : ""));
        }

        /**
         * A virtio-blk disk as {@code --disk} takes it: {@code path=FILE,readonly=on,num_queues=2,id=data}...
         *
         * @param options the option's value, in the command line's syntax
         * @return this builder
         */
        public Builder disk(String options) {
            disks.add(Objects.requireNonNull(options, "disk"));
            return this;
        }

        /**
         * A virtio-net device as {@code --net} takes it: {@code tap=tap0,mac=12:34:56:78:9a:bc}...
         *
         * @param options the option's value, in the command line's syntax
         * @return this builder
         */
        public Builder net(String options) {
            nets.add(Objects.requireNonNull(options, "net"));
            return this;
        }

        /**
         * A virtio-rng device fed from {@code /dev/urandom} ({@code --rng}).
         *
         * @return this builder
         */
        public Builder rng() {
            this.rng = "src=/dev/urandom";
            return this;
        }

        /**
         * A virtio-rng device fed from {@code source} ({@code --rng src=FILE}).
         *
         * @param source the file the device reads its entropy from
         * @return this builder
         */
        public Builder rng(Path source) {
            this.rng = "src=" + Objects.requireNonNull(source, "source");
            return this;
        }

        /**
         * Whether the VM has a serial port (default yes); its console is {@link MicroVm#serial()}.
         *
         * @param present false to leave the device out
         * @return this builder
         */
        public Builder serial(boolean present) {
            this.serial = present;
            return this;
        }

        /**
         * Whether the VM has a virtio console (default yes); it is {@link MicroVm#virtioConsole()}.
         *
         * @param present false to leave the device out
         * @return this builder
         */
        public Builder virtioConsole(boolean present) {
            this.virtioConsole = present;
            return this;
        }

        /**
         * The hypervisor backend ({@code --hypervisor}): {@code kvm}, {@code mshv} or {@code auto} (default).
         *
         * @param name the option, with its dashes ({@code --platform})
         * @return this builder
         */
        public Builder hypervisor(String name) {
            this.hypervisor = Objects.requireNonNull(name, "hypervisor");
            return this;
        }

        /**
         * Any other {@code nimbus} option that configures the VM, as on the command line:
         * {@code option("--platform", "serial_number=42")}, {@code option("--cpus", "boot=2,max_phys_bits=40")}.
         * A device option ({@code --disk}, {@code --net}) given several times adds several devices. The consoles
         * are this builder's own ({@link #serial(boolean)}, {@link #virtioConsole(boolean)}).
         *
         * @param name  the option, with its dashes ({@code --platform})
         * @param value its value, in the command line's syntax
         * @return this builder
         * @throws IllegalArgumentException for {@code --serial}, {@code --console} and options that are not
         *                                  about the VM ({@code --api-socket}, {@code --log-file})
         */
        public Builder option(String name, String value) {
            Objects.requireNonNull(value, "value");
            switch (name) {
                case "--serial", "--console" -> throw new IllegalArgumentException(name
                        + ": an embedded VM's consoles are Java streams (Builder.serial, Builder.virtioConsole)");
                case "--api-socket", "--log-file", "-v", "--hypervisor", "--seccomp" ->
                        throw new IllegalArgumentException(name + ": not a VM option (it is about the nimbus process)");
                default -> {
                    if (!name.startsWith("--")) {
                        throw new IllegalArgumentException("option: expected a --name, got '" + name + "'");
                    }
                }
            }
            options.computeIfAbsent(name, k -> new ArrayList<>()).add(value);
            return this;
        }

        /**
         * Checks the configuration as the command line does and makes the VM, {@link VmStatus#CREATED}: nothing
         * runs until {@link MicroVm#start()}.
         *
         * @return the VM, created
         * @throws InvalidConfigException naming the field that is wrong
         */
        public MicroVm build() {
            HypervisorChoice choice;
            try {
                choice = new HypervisorChoice(hypervisor);
            } catch (IllegalArgumentException e) {
                throw new InvalidConfigException(e.getMessage(), e); // it names --hypervisor
            }
            VmConfig config = config();
            StreamConsoles consoles = new StreamConsoles();
            NimbusComponent component = NimbusComponent.create(choice, consoles);
            VmController controller;
            try {
                controller = component.vmController(); // selects the backend: auto takes the first usable one
            } catch (HypervisorException | SyscallException e) {
                throw new HypervisorUnavailableException(e.getMessage(), e);
            }
            MicroVm vm = new MicroVm(component, controller, consoles, config);
            try {
                run(() -> vm.controller.create(config));
            } catch (RuntimeException e) {
                vm.close();
                throw e;
            }
            return vm;
        }

        /**
         * {@link #build()}, then {@link MicroVm#start()}; a VM that fails to start is closed.
         *
         * @return the VM, running
         */
        public MicroVm start() {
            MicroVm vm = build();
            try {
                return vm.start();
            } catch (RuntimeException e) {
                vm.close();
                throw e;
            }
        }

        /** The configuration, read by the command line's own reader. */
        private VmConfig config() {
            Map<String, List<String>> values = new LinkedHashMap<>(options);
            if (kernel != null) {
                values.put("--kernel", List.of(kernel.toString()));
            }
            if (initramfs != null) {
                values.put("--initramfs", List.of(initramfs.toString()));
            }
            if (cmdline != null) {
                values.put("--cmdline", List.of(cmdline));
            }
            if (cpus != null) {
                once(values, "--cpus", "boot=" + cpus, "cpus()");
            }
            if (memory != null) {
                once(values, "--memory", memory, "memory()");
            }
            values.merge("--disk", disks, Builder::concat);
            values.merge("--net", nets, Builder::concat);
            if (rng != null) {
                values.put("--rng", List.of(rng));
            }
            // both consoles may be tty here: on this VM's own streams, not a terminal they would have to share
            values.put("--serial", List.of(serial ? "tty" : "off"));
            values.put("--console", List.of("off"));
            VmConfig config;
            try {
                config = CommandLineConfig.read(values);
            } catch (ConfigException e) {
                throw new InvalidConfigException(e.getMessage(), e);
            }
            return config.withConsoles(config.serial(),
                    ConsoleConfig.of(virtioConsole ? ConsoleConfig.Mode.TTY : ConsoleConfig.Mode.OFF));
        }

        /** Sets {@code option}, which {@link #option} must not have given too. */
        private static void once(Map<String, List<String>> values, String option, String value, String setter) {
            values.merge(option, List.of(value), (a, b) -> {
                throw new InvalidConfigException(option + ": given both by " + setter + " and option(\"" + option + "\", ...)", null);
            });
        }

        private static List<String> concat(List<String> a, List<String> b) {
            List<String> all = new ArrayList<>(a);
            all.addAll(b);
            return all;
        }
    }
}
