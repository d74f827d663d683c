package dev.nimbus.vmm.config;

import java.util.Optional;

/**
 * One {@code --net} value ({@code net[i]} in VmConfig JSON):
 * {@code tap=NAME,ip=A.B.C.D,mask=A.B.C.D,mac=MAC[,num_queues=2][,queue_size=N][,id=ID]}; the device manager
 * makes a virtio-net on a tap of it. {@code host_mac} and {@code mtu} are refused by the schema (not supported
 * yet), so they have no component here.
 */
public record NetConfig(Optional<String> tap, Optional<String> ip, Optional<String> mask, Optional<String> mac,
                        int numQueues, int queueSize, Optional<String> id) {
    /** One {@code --net} value. */
    public static NetConfig parse(String text) throws ConfigException {
        return from(Values.fromCommandLine(Schema.NET, text));
    }

    /** The section's values from either front end, with the checks across its fields. */
    public static NetConfig from(Values v) throws ConfigException {
        if (v.given(Schema.NET_MASK) && !v.given(Schema.NET_IP)) {
            throw v.wrong(Schema.NET_MASK, "needs ip too (the mask is the host address's)");
        }
        return new NetConfig(v.find(Schema.NET_TAP).filter(t -> !t.isEmpty()), v.find(Schema.NET_IP),
                v.find(Schema.NET_MASK), v.find(Schema.NET_MAC),
                v.integer(Schema.NET_NUM_QUEUES), v.integer(Schema.NET_QUEUE_SIZE), v.find(Schema.NET_ID));
    }
}
