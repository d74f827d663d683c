package dev.nimbus.host.net;

import dev.nimbus.host.LibC;
import dev.nimbus.testsupport.HostTools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemoryLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The tap's ioctl numbers, flags and struct layouts are the host headers' (linux/if_tun.h, linux/if.h,
 * linux/sockios.h, linux/virtio_net.h, sys/uio.h): a C program built with gcc prints them, and each is
 * compared with what {@link Tap} and {@link LibC} use.
 */
class TapLayoutTest {
    @TempDir
    Path dir;

    @Test
    void numbersAndLayoutsMatchTheHostHeaders() throws Exception {
        String gccTarget = run(List.of("gcc", "-dumpmachine")).trim();
        String jvmArch = System.getProperty("os.arch").replace("amd64", "x86_64");
        assumeTrue(gccTarget.startsWith(jvmArch + "-"), "gcc builds for " + gccTarget + ", the JVM runs on " + jvmArch);
        Map<String, Long> ours = new LinkedHashMap<>();
        ours.put("TUNSETIFF", Tap.TUNSETIFF);
        ours.put("TUNSETOFFLOAD", Tap.TUNSETOFFLOAD);
        ours.put("TUNSETVNETHDRSZ", Tap.TUNSETVNETHDRSZ);
        ours.put("TUNSETPERSIST", Tap.TUNSETPERSIST);
        ours.put("SIOCGIFFLAGS", Tap.SIOCGIFFLAGS);
        ours.put("SIOCSIFFLAGS", Tap.SIOCSIFFLAGS);
        ours.put("SIOCSIFADDR", Tap.SIOCSIFADDR);
        ours.put("SIOCSIFNETMASK", Tap.SIOCSIFNETMASK);
        ours.put("SIOCGIFHWADDR", Tap.SIOCGIFHWADDR);
        ours.put("SIOCGIFINDEX", Tap.SIOCGIFINDEX);
        ours.put("IFF_TAP", (long) Tap.IFF_TAP);
        ours.put("IFF_NO_PI", (long) Tap.IFF_NO_PI);
        ours.put("IFF_VNET_HDR", (long) Tap.IFF_VNET_HDR);
        ours.put("IFF_UP", (long) Tap.IFF_UP);
        ours.put("TUN_F_CSUM", (long) Tap.TUN_F_CSUM);
        ours.put("TUN_F_TSO4", (long) Tap.TUN_F_TSO4);
        ours.put("TUN_F_TSO6", (long) Tap.TUN_F_TSO6);
        ours.put("TUN_F_TSO_ECN", (long) Tap.TUN_F_TSO_ECN);
        ours.put("TUN_F_UFO", (long) Tap.TUN_F_UFO);
        ours.put("IFNAMSIZ", (long) Tap.IFNAMSIZ);
        ours.put("AF_INET", (long) LibC.AF_INET);
        ours.put("SOCK_DGRAM", (long) LibC.SOCK_DGRAM);
        ours.put("SOCK_CLOEXEC", (long) LibC.SOCK_CLOEXEC);
        ours.put("UIO_MAXIOV", (long) LibC.IOV_MAX);
        ours.put("sizeof(struct ifreq)", Tap.IFREQ.byteSize());
        ours.put("offsetof(ifr_flags)", Tap.IFR_FLAGS);
        ours.put("offsetof(ifr_addr)", Tap.IFR_ADDR);
        ours.put("offsetof(ifr_ifindex)", Tap.IFR_INDEX);
        ours.put("offsetof(ifr_hwaddr.sa_data)", Tap.IFR_HWADDR_DATA);
        ours.put("sizeof(struct sockaddr_in)", Tap.SOCKADDR_IN.byteSize());
        ours.put("offsetof(sin_addr)", Tap.SIN_ADDR);
        ours.put("sizeof(struct virtio_net_hdr_v1)", (long) Tap.VNET_HDR_SIZE);
        ours.put("sizeof(struct iovec)", LibC.IOVEC.byteSize());
        ours.put("offsetof(iov_len)", LibC.IOVEC.byteOffset(MemoryLayout.PathElement.groupElement("iov_len")));

        Path src = dir.resolve("tap.c");
        Files.writeString(src, """
                #define _GNU_SOURCE
                #include <stdio.h>
                #include <stddef.h>
                #include <sys/ioctl.h>
                #include <sys/socket.h>
                #include <sys/uio.h>
                #include <netinet/in.h>
                #include <linux/if.h>
                #include <linux/if_tun.h>
                #include <linux/sockios.h>
                #include <limits.h>
                #include <linux/virtio_net.h>
                #define P(name, v) printf("%s=%lu\\n", name, (unsigned long) (v))
                int main(void) {
                    P("TUNSETIFF", TUNSETIFF); P("TUNSETOFFLOAD", TUNSETOFFLOAD); P("TUNSETVNETHDRSZ", TUNSETVNETHDRSZ); P("TUNSETPERSIST", TUNSETPERSIST);
                    P("SIOCGIFFLAGS", SIOCGIFFLAGS); P("SIOCSIFFLAGS", SIOCSIFFLAGS); P("SIOCSIFADDR", SIOCSIFADDR);
                    P("SIOCSIFNETMASK", SIOCSIFNETMASK); P("SIOCGIFHWADDR", SIOCGIFHWADDR); P("SIOCGIFINDEX", SIOCGIFINDEX);
                    P("IFF_TAP", IFF_TAP); P("IFF_NO_PI", IFF_NO_PI); P("IFF_VNET_HDR", IFF_VNET_HDR); P("IFF_UP", IFF_UP);
                    P("TUN_F_CSUM", TUN_F_CSUM); P("TUN_F_TSO4", TUN_F_TSO4); P("TUN_F_TSO6", TUN_F_TSO6);
                    P("TUN_F_TSO_ECN", TUN_F_TSO_ECN); P("TUN_F_UFO", TUN_F_UFO); P("IFNAMSIZ", IFNAMSIZ);
                    P("AF_INET", AF_INET); P("SOCK_DGRAM", SOCK_DGRAM); P("SOCK_CLOEXEC", SOCK_CLOEXEC);
                    P("UIO_MAXIOV", IOV_MAX);
                    P("sizeof(struct ifreq)", sizeof(struct ifreq));
                    P("offsetof(ifr_flags)", offsetof(struct ifreq, ifr_flags));
                    P("offsetof(ifr_addr)", offsetof(struct ifreq, ifr_addr));
                    P("offsetof(ifr_ifindex)", offsetof(struct ifreq, ifr_ifindex));
                    P("offsetof(ifr_hwaddr.sa_data)", offsetof(struct ifreq, ifr_hwaddr.sa_data));
                    P("sizeof(struct sockaddr_in)", sizeof(struct sockaddr_in));
                    P("offsetof(sin_addr)", offsetof(struct sockaddr_in, sin_addr));
                    P("sizeof(struct virtio_net_hdr_v1)", sizeof(struct virtio_net_hdr_v1));
                    P("sizeof(struct iovec)", sizeof(struct iovec));
                    P("offsetof(iov_len)", offsetof(struct iovec, iov_len));
                    return 0;
                }
                """);
        Path exe = dir.resolve("tap");
        run(List.of("gcc", "-o", exe.toString(), src.toString()));
        Map<String, Long> theirs = new LinkedHashMap<>();
        for (String line : run(List.of(exe.toString())).split("\n")) {
            if (line.contains("=")) {
                theirs.put(line.substring(0, line.indexOf('=')), Long.parseUnsignedLong(line.substring(line.indexOf('=') + 1).trim()));
            }
        }
        assertThat(ours).containsExactlyInAnyOrderEntriesOf(theirs);
    }

    @Test
    void nameLongerThanAnInterfaceNameIsRefusedBeforeAnyCall() {
        assertThatThrownBy(() -> Tap.open("nimbus-tap-0123456")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("longer than 15 characters");
    }

    @Test
    void nameWithASlashIsRefused() {
        assertThatThrownBy(() -> Tap.open("tap/0")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not a valid interface name");
    }

    private static String run(List<String> command) {
        return HostTools.run(Path.of("."), command);
    }
}
