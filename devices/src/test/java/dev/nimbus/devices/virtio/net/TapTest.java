package dev.nimbus.devices.virtio.net;

import dev.nimbus.host.SyscallException;
import dev.nimbus.host.net.Tap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.DatagramChannel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link Tap} (hypervisor-api) on the real tun driver, in a network namespace private to the test (the
 * namespace helper lives with the virtio-net tests that need it too).
 */
class TapTest {
    NetNamespace ns;

    @BeforeEach
    void enter() {
        ns = NetNamespace.create();
    }

    @AfterEach
    void leave() {
        ns.close();
    }

    @Test
    void nameWithPercentDLetsTheKernelPickTheNumber() {
        try (Tap tap = ns.call(() -> Tap.open("nimbus%d"))) {
            assertThat(tap.name()).isEqualTo("nimbus0");
            try (Tap second = ns.call(() -> Tap.open("nimbus%d"))) {
                assertThat(second.name()).isEqualTo("nimbus1");
            }
        }
    }

    @Test
    void addressAndNetmaskMakeTheAddressLocalInTheNamespace() throws Exception {
        try (Tap tap = ns.call(() -> Tap.open("t0"))) {
            ns.call(() -> {
                tap.setAddress((Inet4Address) InetAddress.getByName("10.78.0.1"), (Inet4Address) InetAddress.getByName("255.255.255.0"));
                tap.up();
                // binding succeeds only to an address of this namespace's interfaces
                try (DatagramChannel udp = DatagramChannel.open()) {
                    udp.bind(new InetSocketAddress("10.78.0.1", 0));
                }
                return null;
            });
            byte[] mac = ns.call(tap::hardwareAddress);
            assertThat(mac).hasSize(6).isNotEqualTo(new byte[6]);
            assertThat(mac[0] & 1).as("unicast").isZero();
            assertThat(ns.call(tap::index)).isPositive();
        }
    }

    @Test
    void addressIsNotSetOutsideTheNamespace() {
        // the test thread is in the host's namespace, where this tap does not exist
        try (Tap tap = ns.call(() -> Tap.open("nimbus-only-ns"))) {
            assertThatThrownBy(tap::index).isInstanceOf(SyscallException.class).hasMessageContaining("SIOCGIFINDEX(nimbus-only-ns)")
                    .hasMessageContaining("ENODEV");
        }
    }

    /** A persistent tap outlives its descriptor, as an operator's does (the snapshot test's tap outlives a killed VMM). */
    @Test
    void aPersistentTapOutlivesItsDescriptorUntilItIsMadeTransientAgain() {
        int index;
        try (Tap tap = ns.call(() -> Tap.open("kept0"))) {
            index = ns.call(tap::index);
            tap.persist(true);
        }
        try (Tap again = ns.call(() -> Tap.open("kept0"))) {
            assertThat(ns.call(again::index)).as("the same interface, attached again").isEqualTo(index);
            again.persist(false);
        }
        try (Tap fresh = ns.call(() -> Tap.open("kept0"))) {
            assertThat(ns.call(fresh::index)).as("gone with its last descriptor, so made anew").isNotEqualTo(index);
        }
    }

    @Test
    void attachingATapAnotherDescriptorHoldsSaysSo() {
        try (Tap tap = ns.call(() -> Tap.open("busy0"))) {
            assertThatThrownBy(() -> ns.call(() -> Tap.open("busy0"))).isInstanceOf(SyscallException.class)
                    .hasMessageContaining("TUNSETIFF(busy0)").hasMessageContaining("EBUSY")
                    .hasMessageContaining("already attached to another process");
        }
    }

    @Test
    void offloadsCanBeSetAndCleared() {
        try (Tap tap = ns.call(() -> Tap.open("off0"))) {
            tap.setOffload(Tap.TUN_F_CSUM | Tap.TUN_F_TSO4 | Tap.TUN_F_TSO6);
            tap.setOffload(0);
            assertThatThrownBy(() -> tap.setOffload(0x4000_0000)).isInstanceOf(SyscallException.class)
                    .hasMessageContaining("TUNSETOFFLOAD(off0");
        }
    }
}
