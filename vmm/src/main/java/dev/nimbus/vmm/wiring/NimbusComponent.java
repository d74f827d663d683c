package dev.nimbus.vmm.wiring;

import dagger.BindsInstance;
import dagger.Component;
import dev.nimbus.hypervisor.Hypervisor;
import dev.nimbus.hypervisor.HypervisorRegistry;
import dev.nimbus.hypervisor.arch.ArchPlatform;
import dev.nimbus.vmm.console.ConsoleHost;
import dev.nimbus.vmm.console.HostTerminal;
import dev.nimbus.vmm.control.VmController;

import javax.inject.Singleton;

/**
 * The one assembly point of a Nimbus process: the selected hypervisor backend, the host's architecture
 * platform and, as they are built, the devices. Nothing else in the VMM creates these.
 */
@Singleton
@Component(modules = PlatformModule.class)
public interface NimbusComponent {
    /** Every backend on the class path, usable or not. */
    HypervisorRegistry hypervisors();

    /** The backend chosen by {@code --hypervisor}; throws when it is not usable here, saying why. */
    Hypervisor hypervisor();

    /** The platform of the host's architecture. */
    ArchPlatform archPlatform();

    /** The VM-control thread every front end goes through (selects the backend when first used). */
    VmController vmController();

    /** The component of a VMM process: a console in mode tty is on the process's terminal. */
    static NimbusComponent create(HypervisorChoice choice) {
        return create(choice, new HostTerminal());
    }

    /** A component whose consoles in mode tty are on {@code consoles} (an embedding program's streams). */
    static NimbusComponent create(HypervisorChoice choice, ConsoleHost consoles) {
        return DaggerNimbusComponent.factory().create(choice, consoles);
    }

    /** Creates the component for one VMM process, or for one VM a Java program embeds. */
    @Component.Factory
    interface Factory {
        NimbusComponent create(@BindsInstance HypervisorChoice choice, @BindsInstance ConsoleHost consoles);
    }
}
