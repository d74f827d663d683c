package dev.nimbus.junit;

import dev.nimbus.api.Console;
import dev.nimbus.api.HypervisorStatus;
import dev.nimbus.api.MicroVm;
import org.junit.jupiter.api.MediaType;
import org.junit.jupiter.api.extension.AfterTestExecutionCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionConfigurationException;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolutionException;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.opentest4j.TestAbortedException;

import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Boots the {@link Boot}-annotated {@link MicroVm}s of a {@link MicroVmTest} class: static fields once per
 * class, instance fields and parameters once per test, each closed when its scope ends. Registered by
 * {@link MicroVmTest}; see there for hosts without a usable hypervisor and for failure reports.
 */
public final class MicroVmExtension implements BeforeAllCallback, BeforeEachCallback, ParameterResolver,
        AfterTestExecutionCallback {
    private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(MicroVmExtension.class);
    private static final Pattern PLACEHOLDER = Pattern.compile("\\$\\{([^}]+)}");
    /** Where {@code CI} and the placeholders' environment variables are read (tests replace it). */
    static volatile java.util.function.UnaryOperator<String> environment = System::getenv;
    /** Per hypervisor name, once per JVM: opening the device and measuring it costs tens of milliseconds. */
    private static final Map<String, HypervisorStatus> STATUS = new ConcurrentHashMap<>();

    /** Made by JUnit through {@link MicroVmTest}. */
    public MicroVmExtension() {}

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        for (Field f : bootFields(context.getRequiredTestClass())) {
            if (Modifier.isStatic(f.getModifiers())) {
                f.setAccessible(true);
                f.set(null, boot(f.getAnnotation(Boot.class), f.getName(), null, context));
            }
        }
    }

    @Override
    public void beforeEach(ExtensionContext context) throws Exception {
        // a VM in a parameter of the test: whether one can boot is asked here, where an abort is an abort (a
        // parameter resolver's exception would be turned into a failure)
        for (java.lang.reflect.Parameter p : context.getRequiredTestMethod().getParameters()) {
            Boot boot = p.getAnnotation(Boot.class);
            if (boot != null && p.getType() == MicroVm.class) {
                requireHypervisor(expand(boot.hypervisor(), "hypervisor"));
            }
        }
        for (Object instance : context.getRequiredTestInstances().getAllInstances()) {
            for (Field f : bootFields(instance.getClass())) {
                if (!Modifier.isStatic(f.getModifiers())) {
                    f.setAccessible(true);
                    f.set(instance, boot(f.getAnnotation(Boot.class), f.getName(), instance, context));
                }
            }
        }
    }

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        return parameter.getParameter().getType() == MicroVm.class && parameter.isAnnotated(Boot.class);
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        Boot boot = parameter.findAnnotation(Boot.class).orElseThrow();
        try {
            return boot(boot, parameter.getParameter().getName(), context.getTestInstance().orElse(null), context);
        } catch (TestAbortedException e) {
            throw e;
        } catch (Exception e) {
            throw new ParameterResolutionException("@Boot " + parameter.getParameter().getName() + ": " + e.getMessage(), e);
        }
    }

    /** A failed test gets its VMs' console transcripts in its report, as entries and as files. */
    @Override
    public void afterTestExecution(ExtensionContext context) {
        Throwable failure = context.getExecutionException().orElse(null);
        if (failure == null || failure instanceof TestAbortedException) {
            return;
        }
        List<Booted> vms = new ArrayList<>();
        for (ExtensionContext c = context; c != null; c = c.getParent().orElse(null)) {
            vms.addAll(booted(c));
        }
        for (Booted b : vms) {
            attach(context, b.name(), b.vm().serial());
            b.vm().virtioConsole().ifPresent(console -> attach(context, b.name(), console));
        }
    }

    private static void attach(ExtensionContext context, String vm, Console console) {
        String transcript = console.transcript();
        String key = "microvm." + vm + "." + console.name();
        context.publishReportEntry(key, lastLines(transcript, 50));
        context.publishFile(key + ".log", MediaType.TEXT_PLAIN_UTF_8,
                file -> Files.writeString(file, transcript, StandardCharsets.UTF_8));
    }

    private static String lastLines(String text, int n) {
        String[] lines = text.replace("\r", "").split("\n");
        return String.join("\n", java.util.Arrays.asList(lines).subList(Math.max(0, lines.length - n), lines.length));
    }

    // ---- booting ----

    private record Booted(String name, MicroVm vm) {}

    /** The VMs booted in {@code context}'s scope, closed with it (the store closes AutoCloseable values). */
    private static final class Scope implements AutoCloseable {
        final List<Booted> vms = new ArrayList<>();

        @Override
        public void close() {
            for (Booted b : vms.reversed()) {
                b.vm().close();
            }
        }
    }

    private static List<Booted> booted(ExtensionContext context) {
        Scope s = context.getStore(NAMESPACE).get(Scope.class, Scope.class);
        return s == null ? List.of() : s.vms;
    }

    private static MicroVm boot(Boot boot, String name, Object instance, ExtensionContext context) throws Exception {
        // the test's own mistakes first, on any host; then whether a VM can boot here at all
        MicroVm.Builder builder = boot.builder().isEmpty() ? MicroVm.builder() : fromMethod(boot.builder(), instance, context);
        if (!boot.kernel().isEmpty()) {
            builder.kernel(Path.of(expand(boot.kernel(), "kernel")));
        }
        if (!boot.initramfs().isEmpty()) {
            builder.initramfs(Path.of(expand(boot.initramfs(), "initramfs")));
        }
        if (!boot.cmdline().isEmpty()) {
            builder.cmdline(expand(boot.cmdline(), "cmdline"));
        }
        if (boot.cpus() > 0) {
            builder.cpus(boot.cpus());
        }
        if (boot.memoryMib() > 0) {
            builder.memoryMib(boot.memoryMib());
        }
        for (String d : boot.disks()) {
            builder.disk(expand(d, "disks"));
        }
        for (String n : boot.nets()) {
            builder.net(expand(n, "nets"));
        }
        if (boot.rng()) {
            builder.rng();
        }
        String hypervisor = expand(boot.hypervisor(), "hypervisor");
        builder.hypervisor(hypervisor);
        requireHypervisor(hypervisor);
        MicroVm vm = builder.build();
        Scope scope = context.getStore(NAMESPACE).getOrComputeIfAbsent(Scope.class, k -> new Scope(), Scope.class);
        scope.vms.add(new Booted(name, vm));
        vm.start();
        if (!boot.awaitLine().isEmpty()) {
            vm.serial().awaitLine(expand(boot.awaitLine(), "awaitLine"), Duration.ofSeconds(boot.awaitSeconds()));
        }
        return vm;
    }

    private static MicroVm.Builder fromMethod(String method, Object instance, ExtensionContext context) throws Exception {
        Class<?> type = instance != null ? instance.getClass() : context.getRequiredTestClass();
        Method m = null;
        for (Class<?> c = type; c != null && m == null; c = c.getSuperclass()) {
            try {
                m = c.getDeclaredMethod(method);
            } catch (NoSuchMethodException e) {
                // look in the superclass
            }
        }
        if (m == null || m.getReturnType() != MicroVm.Builder.class) {
            throw new ExtensionConfigurationException("@Boot(builder = \"" + method + "\"): " + type.getName()
                    + " has no method " + method + "() returning MicroVm.Builder");
        }
        if (!Modifier.isStatic(m.getModifiers()) && instance == null) {
            throw new ExtensionConfigurationException("@Boot(builder = \"" + method + "\"): a static field's VM needs a static method");
        }
        m.setAccessible(true);
        try {
            return (MicroVm.Builder) m.invoke(Modifier.isStatic(m.getModifiers()) ? null : instance);
        } catch (InvocationTargetException e) {
            throw e.getCause() instanceof Exception ex ? ex : e;
        }
    }

    private static List<Field> bootFields(Class<?> type) {
        List<Field> out = new ArrayList<>();
        for (Class<?> c = type; c != null && c != Object.class; c = c.getSuperclass()) {
            for (Field f : c.getDeclaredFields()) {
                if (f.isAnnotationPresent(Boot.class)) {
                    if (f.getType() != MicroVm.class) {
                        throw new ExtensionConfigurationException("@Boot " + c.getSimpleName() + "." + f.getName()
                                + ": the field must be a " + MicroVm.class.getName() + ", not a " + f.getType().getName());
                    }
                    out.add(f);
                }
            }
        }
        return out;
    }

    /**
     * Aborts the test when {@code hypervisor} cannot run guests at hardware speed here, saying why; fails it
     * instead under {@code CI=true}.
     */
    static void requireHypervisor(String hypervisor) {
        HypervisorStatus status = STATUS.computeIfAbsent(hypervisor, MicroVm::hypervisorStatus);
        if (status.usable()) {
            return;
        }
        String why = "no microVM can boot here: " + status.reason();
        if ("true".equals(environment.apply("CI"))) {
            throw new ExtensionConfigurationException(why + " (CI=true: a test that needs a hypervisor fails rather than being skipped)");
        }
        throw new TestAbortedException(why);
    }

    /** {@code text} with each {@code ${name}} replaced by that system property, else that environment variable. */
    static String expand(String text, String attribute) {
        Matcher m = PLACEHOLDER.matcher(text);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String name = m.group(1);
            String value = System.getProperty(name, environment.apply(name));
            if (value == null) {
                throw new ExtensionConfigurationException("@Boot " + attribute + ": ${" + name
                        + "} is set neither as a system property nor as an environment variable");
            }
            m.appendReplacement(out, Matcher.quoteReplacement(value));
        }
        m.appendTail(out);
        return out.toString();
    }
}
