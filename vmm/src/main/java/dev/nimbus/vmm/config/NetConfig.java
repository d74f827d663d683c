package dev.nimbus.vmm.config;

import java.util.Optional;
import java.util.Set;

/**
 * One {@code --net} value: {@code tap=NAME,ip=A.B.C.D,mask=A.B.C.D,mac=MAC[,host_mac=MAC][,mtu=N][,num_queues=N][,queue_size=N][,id=ID]}.
 * Parsed in full; {@code VirtioWiring} makes a virtio-net on a tap from it (host_mac, mtu and more than one
 * queue pair are refused there, "not supported yet").
 */
public record NetConfig(Optional<String> tap, Optional<String> ip, Optional<String> mask, Optional<String> mac,
                        Optional<String> hostMac, Optional<Integer> mtu, int numQueues, int queueSize, Optional<String> id) {
    static final Set<String> KEYS = Set.of("tap", "ip", "mask", "mac", "host_mac", "mtu", "num_queues", "queue_size", "id");
    static final Set<String> UNSUPPORTED = Set.of("fd", "iommu", "vhost_user", "socket", "vhost_mode", "pci_segment",
            "offload_tso", "offload_ufo", "offload_csum", "rate_limit_group", "bw_size", "bw_one_time_burst",
            "bw_refill_time", "ops_size", "ops_one_time_burst", "ops_refill_time");
    /** The longest Linux interface name (IFNAMSIZ less the NUL). */
    static final int MAX_TAP_NAME = 15;

    public static NetConfig parse(String text) throws ConfigException {
        OptionList o = OptionList.parse("--net", text, KEYS, UNSUPPORTED, Set.of());
        Optional<String> tap = checkTap(o.raw("tap").orElse(null), null);
        Optional<String> ip = checkIpv4(o.string("ip").orElse(null), "ip", null);
        Optional<String> mask = checkIpv4(o.string("mask").orElse(null), "mask", null);
        Optional<String> mac = checkMac(o.string("mac").orElse(null), "mac", null);
        Optional<String> hostMac = checkMac(o.string("host_mac").orElse(null), "host_mac", null);
        Optional<Integer> mtu = o.has("mtu") ? Optional.of((int) o.integer("mtu", 1500, 68, 65535)) : Optional.empty();
        int queues = checkNumQueues(o.integer("num_queues", 2, 2, 64), null);
        return new NetConfig(tap, ip, mask, mac, hostMac, mtu, queues, DiskConfig.queueSize(o), o.string("id"));
    }

    // The checks both front ends share. apiPrefix is the REST API's path of this net ("net[0].");
    // null when the value came from the command line.

    private static ConfigException wrong(String key, String apiPrefix, String problem) {
        return new ConfigException("--net " + key, (apiPrefix == null ? "--net " : apiPrefix) + key, problem);
    }

    /** The tap's name; none or empty: the host picks one. */
    public static Optional<String> checkTap(String tap, String apiPrefix) throws ConfigException {
        if (tap == null || tap.isEmpty()) {
            return Optional.empty();
        }
        if (tap.length() > MAX_TAP_NAME) {
            throw wrong("tap", apiPrefix, "'" + tap + "' is longer than " + MAX_TAP_NAME + " characters");
        }
        return Optional.of(tap);
    }

    public static Optional<String> checkIpv4(String v, String key, String apiPrefix) throws ConfigException {
        if (v == null) {
            return Optional.empty();
        }
        String[] parts = v.split("\\.", -1);
        boolean ok = parts.length == 4;
        for (int i = 0; ok && i < 4; i++) {
            ok = parts[i].matches("[0-9]{1,3}") && Integer.parseInt(parts[i]) <= 255;
        }
        if (!ok) {
            throw wrong(key, apiPrefix, "expected an IPv4 address such as 192.168.249.1, got '" + v + "'");
        }
        return Optional.of(v);
    }

    public static Optional<String> checkMac(String v, String key, String apiPrefix) throws ConfigException {
        if (v == null) {
            return Optional.empty();
        }
        if (!v.matches("[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}")) {
            throw wrong(key, apiPrefix, "expected a MAC address such as 12:34:56:78:9a:bc, got '" + v + "'");
        }
        if ((Integer.parseInt(v.substring(0, 2), 16) & 1) != 0) {
            throw wrong(key, apiPrefix, v + " is a multicast address");
        }
        return Optional.of(v);
    }

    /** Queues come in receive/transmit pairs: 2 to 64, even. */
    public static int checkNumQueues(long queues, String apiPrefix) throws ConfigException {
        if (queues < 2 || queues > 64) {
            throw wrong("num_queues", apiPrefix, queues + " is out of range (2 to 64)");
        }
        if (queues % 2 != 0) {
            throw wrong("num_queues", apiPrefix, queues + " is odd (queues come in receive/transmit pairs)");
        }
        return (int) queues;
    }
}
