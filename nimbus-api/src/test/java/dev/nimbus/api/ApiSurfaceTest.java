package dev.nimbus.api;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.reflect.Executable;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.Member;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.lang.reflect.WildcardType;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The embedding API's stability rule: everything public in this module is in {@code dev.nimbus.api}, and no
 * public signature there names a type of Nimbus's internals ({@code dev.nimbus.vmm}, the SPI, the devices...),
 * so those can change without breaking a user's code. Only the JDK's types and the API's own appear.
 */
class ApiSurfaceTest {
    static List<Class<?>> moduleClasses() throws IOException, URISyntaxException, ClassNotFoundException {
        Path root = Path.of(MicroVm.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        List<Class<?>> out = new ArrayList<>();
        try (Stream<Path> files = Files.walk(root)) {
            for (Path p : files.filter(f -> f.toString().endsWith(".class")).toList()) {
                String name = root.relativize(p).toString().replace('/', '.').replaceAll("\\.class$", "");
                out.add(Class.forName(name, false, ApiSurfaceTest.class.getClassLoader()));
            }
        }
        return out;
    }

    private static boolean exposed(Class<?> c) {
        for (Class<?> k = c; k != null; k = k.getDeclaringClass()) {
            if (!Modifier.isPublic(k.getModifiers())) {
                return false;
            }
        }
        return true;
    }

    @Test
    void everyPublicTypeIsInTheApiPackage() throws Exception {
        List<Class<?>> classes = moduleClasses();
        assertThat(classes).contains(MicroVm.class, Console.class, StreamConsoles.class);
        assertThat(classes.stream().filter(ApiSurfaceTest::exposed).map(Class::getPackageName).distinct())
                .containsExactly("dev.nimbus.api");
    }

    @Test
    void publicSignaturesNameOnlyTheJdksAndTheApisTypes() throws Exception {
        List<String> leaks = new ArrayList<>();
        for (Class<?> c : moduleClasses()) {
            if (!exposed(c)) {
                continue;
            }
            check(c.getName(), c.getGenericSuperclass(), leaks);
            for (Type t : c.getGenericInterfaces()) {
                check(c.getName(), t, leaks);
            }
            for (Field f : c.getDeclaredFields()) {
                if (visible(f)) {
                    check(c.getName() + "." + f.getName(), f.getGenericType(), leaks);
                }
            }
            List<Executable> members = new ArrayList<>(List.of(c.getDeclaredMethods()));
            members.addAll(List.of(c.getDeclaredConstructors()));
            for (Executable m : members) {
                if (!visible(m) || m.isSynthetic()) {
                    continue;
                }
                String where = c.getName() + "." + m.getName();
                if (m instanceof Method method) {
                    check(where, method.getGenericReturnType(), leaks);
                }
                for (Type t : m.getGenericParameterTypes()) {
                    check(where, t, leaks);
                }
                for (Type t : m.getGenericExceptionTypes()) {
                    check(where, t, leaks);
                }
            }
        }
        assertThat(leaks).as("public signatures that name Nimbus internals").isEmpty();
    }

    @Test
    void theCheckCatchesAnInternalTypeInASignature() {
        List<String> leaks = new ArrayList<>();
        check("example", dev.nimbus.vmm.config.VmConfig.class, leaks);
        check("example", java.util.Optional.class, leaks);
        assertThat(leaks).containsExactly("example: dev.nimbus.vmm.config.VmConfig");
    }

    private static boolean visible(Member m) {
        return Modifier.isPublic(m.getModifiers()) || Modifier.isProtected(m.getModifiers());
    }

    private static void check(String where, Type t, List<String> leaks) {
        switch (t) {
            case null -> { }
            case Class<?> c -> {
                Class<?> e = c;
                while (e.isArray()) {
                    e = e.getComponentType();
                }
                String n = e.getName();
                if (!e.isPrimitive() && !n.startsWith("java.") && !n.startsWith("dev.nimbus.api.")) {
                    leaks.add(where + ": " + n);
                }
            }
            case ParameterizedType p -> {
                check(where, p.getRawType(), leaks);
                for (Type a : p.getActualTypeArguments()) {
                    check(where, a, leaks);
                }
            }
            case GenericArrayType g -> check(where, g.getGenericComponentType(), leaks);
            case WildcardType w -> {
                for (Type b : w.getUpperBounds()) {
                    check(where, b, leaks);
                }
                for (Type b : w.getLowerBounds()) {
                    check(where, b, leaks);
                }
            }
            case TypeVariable<?> v -> { }
            default -> leaks.add(where + ": " + t);
        }
    }
}
