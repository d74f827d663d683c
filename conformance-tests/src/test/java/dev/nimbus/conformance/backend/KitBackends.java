package dev.nimbus.conformance.backend;

import org.junit.jupiter.api.extension.ClassTemplateInvocationContext;
import org.junit.jupiter.api.extension.ClassTemplateInvocationContextProvider;
import org.junit.jupiter.api.extension.Extension;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

/**
 * The invocations of a {@link ConformanceKit} class: one per {@link KitBackend}, named by the backend
 * ({@code kvm}, {@code mshv}), each with that backend's requirement and the backend handed to the test
 * class's constructor.
 */
final class KitBackends implements ClassTemplateInvocationContextProvider {
    @Override
    public boolean supportsClassTemplate(ExtensionContext context) {
        return true;
    }

    @Override
    public Stream<ClassTemplateInvocationContext> provideClassTemplateInvocationContexts(ExtensionContext context) {
        return Arrays.stream(KitBackend.values()).map(KitBackends::invocation);
    }

    private static ClassTemplateInvocationContext invocation(KitBackend backend) {
        return new ClassTemplateInvocationContext() {
            @Override
            public String getDisplayName(int invocationIndex) {
                return backend.id();
            }

            @Override
            public List<Extension> getAdditionalExtensions() {
                return List.of(backend.requirement(), new BackendParameter(backend));
            }
        };
    }

    /** Hands the case's backend to the kit class's constructor. */
    private record BackendParameter(KitBackend backend) implements ParameterResolver {
        @Override
        public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
            return parameter.getParameter().getType() == KitBackend.class;
        }

        @Override
        public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
            return backend;
        }
    }
}
