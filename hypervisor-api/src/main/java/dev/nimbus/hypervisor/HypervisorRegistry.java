package dev.nimbus.hypervisor;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.ServiceLoader;

/**
 * Finds the hypervisor backends on the class path ({@link ServiceLoader}) and picks one.
 *
 * <p>Selection: {@code auto} takes KVM if it is usable, else MSHV, else any other usable backend in
 * discovery order; a name takes that backend if it is present and usable. When nothing fits, the
 * {@link NoUsableHypervisorException} lists every backend found and why it is not usable.
 */
public final class HypervisorRegistry {
    /** The preference order for {@code auto}. */
    private static final List<String> AUTO_ORDER = List.of("kvm", "mshv");

    private final List<Hypervisor> found;

    private HypervisorRegistry(List<Hypervisor> found) {
        this.found = List.copyOf(found);
    }

    /** Every backend {@link ServiceLoader} finds through {@code loader}. */
    public static HypervisorRegistry discover(ClassLoader loader) {
        List<Hypervisor> list = new ArrayList<>();
        ServiceLoader.load(Hypervisor.class, loader).forEach(list::add);
        return new HypervisorRegistry(list);
    }

    /** A registry over the given backends (for tests and embedding). */
    public static HypervisorRegistry of(List<Hypervisor> backends) {
        return new HypervisorRegistry(backends);
    }

    /** All backends found, in discovery order. */
    public List<Hypervisor> all() {
        return found;
    }

    public Optional<Hypervisor> byName(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        return found.stream().filter(h -> h.name().equals(n)).findFirst();
    }

    /**
     * The backend to use for {@code choice} ({@code auto}, {@code kvm}, {@code mshv}, ...).
     *
     * @throws NoUsableHypervisorException when the named backend is absent or unusable, or for
     *         {@code auto} when none is usable; the message says why for each backend
     */
    public Hypervisor select(String choice) {
        String c = choice.toLowerCase(Locale.ROOT);
        if (c.equals("auto")) {
            List<Hypervisor> ordered = new ArrayList<>();
            for (String name : AUTO_ORDER) {
                byName(name).ifPresent(ordered::add);
            }
            found.stream().filter(h -> !ordered.contains(h)).forEach(ordered::add);
            for (Hypervisor h : ordered) {
                if (h.availability().usable()) {
                    return h;
                }
            }
            throw new NoUsableHypervisorException(explain("no usable hypervisor"));
        }
        Hypervisor h = byName(c).orElseThrow(() -> new NoUsableHypervisorException(
                explain("hypervisor '" + c + "' is not available in this build")));
        Availability a = h.availability();
        if (!a.usable()) {
            throw new NoUsableHypervisorException("hypervisor '" + c + "' is not usable: " + a.reason());
        }
        return h;
    }

    private String explain(String headline) {
        if (found.isEmpty()) {
            return headline + ": no hypervisor backend is on the class path";
        }
        StringBuilder sb = new StringBuilder(headline).append(':');
        for (Hypervisor h : found) {
            Availability a = h.availability();
            sb.append("\n  ").append(h.name()).append(": ").append(a.usable() ? "usable" : a.reason());
        }
        return sb.toString();
    }

    /** No backend fits the selection; the message lists each backend and why. */
    public static final class NoUsableHypervisorException extends HypervisorException {
        private static final long serialVersionUID = 1L;

        public NoUsableHypervisorException(String message) {
            super(message);
        }
    }
}
