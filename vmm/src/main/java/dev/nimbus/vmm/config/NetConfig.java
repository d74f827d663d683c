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
        Optional<String> tap = o.raw("tap").filter(t -> !t.isEmpty()); // tap= (no name): the host picks one
        if (tap.isPresent() && tap.get().length() > MAX_TAP_NAME) {
            throw new ConfigException("--net tap: '" + tap.get() + "' is longer than " + MAX_TAP_NAME + " characters");
        }
        Optional<String> ip = ipv4(o, "ip");
        Optional<String> mask = ipv4(o, "mask");
        Optional<String> mac = mac(o, "mac");
        Optional<String> hostMac = mac(o, "host_mac");
        Optional<Integer> mtu = o.has("mtu") ? Optional.of((int) o.integer("mtu", 1500, 68, 65535)) : Optional.empty();
        int queues = (int) o.integer("num_queues", 2, 2, 64);
        if (queues % 2 != 0) {
            throw new ConfigException("--net num_queues: " + queues + " is odd (queues come in receive/transmit pairs)");
        }
        return new NetConfig(tap, ip, mask, mac, hostMac, mtu, queues, DiskConfig.queueSize(o), o.string("id"));
    }

    private static Optional<String> ipv4(OptionList o, String key) throws ConfigException {
        Optional<String> v = o.string(key);
        if (v.isEmpty()) {
            return v;
        }
        String[] parts = v.get().split("\\.", -1);
        boolean ok = parts.length == 4;
        for (int i = 0; ok && i < 4; i++) {
            ok = parts[i].matches("[0-9]{1,3}") && Integer.parseInt(parts[i]) <= 255;
        }
        if (!ok) {
            throw new ConfigException("--net " + key + ": expected an IPv4 address such as 192.168.249.1, got '" + v.get() + "'");
        }
        return v;
    }

    private static Optional<String> mac(OptionList o, String key) throws ConfigException {
        Optional<String> v = o.string(key);
        if (v.isPresent() && !v.get().matches("[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}")) {
            throw new ConfigException("--net " + key + ": expected a MAC address such as 12:34:56:78:9a:bc, got '" + v.get() + "'");
        }
        if (v.isPresent() && (Integer.parseInt(v.get().substring(0, 2), 16) & 1) != 0) {
            throw new ConfigException("--net " + key + ": " + v.get() + " is a multicast address");
        }
        return v;
    }
}
