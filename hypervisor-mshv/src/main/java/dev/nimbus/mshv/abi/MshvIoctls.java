package dev.nimbus.mshv.abi;

import dev.nimbus.host.Ioctl;

import java.lang.foreign.MemoryLayout;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The MSHV ioctl request numbers, each computed from the {@code _IOC} encoding with the size of its
 * argument's layout, as Linux's {@code <linux/mshv.h>} defines them. That header is the authority: the
 * numbering of rust-vmm's mshv crates before July 2024 ({@code MSHV_CREATE_VP} at 0x04, {@code MSHV_IRQFD} at
 * 0x0E, {@code MSHV_SET_MSI_ROUTING} at 0x11, {@code MSHV_GET_VP_STATE} at 0x0A) predates it, and the property, register and
 * interrupt ioctls that crate still lists at 0xF0 and above do not exist upstream, where those are
 * hypercalls through {@link #MSHV_ROOT_HVCALL}. {@link #ALL} names every one for the conformance test.
 */
public final class MshvIoctls {
    private static final int MSHV_IOCTL = 0xB8;
    private static final Map<String, Long> all = new LinkedHashMap<>();

    /** Every ioctl below, by its C name. */
    public static final Map<String, Long> ALL = Collections.unmodifiableMap(all);

    private MshvIoctls() {}

    private static long def(String name, long number) {
        all.put(name, number);
        return number;
    }

    // /dev/mshv
    public static final long MSHV_CREATE_PARTITION = def("MSHV_CREATE_PARTITION",
            Ioctl.iow(MSHV_IOCTL, 0x00, MshvStructs.MSHV_CREATE_PARTITION.byteSize()));

    // partition fd
    public static final long MSHV_INITIALIZE_PARTITION = def("MSHV_INITIALIZE_PARTITION", Ioctl.io(MSHV_IOCTL, 0x00));
    public static final long MSHV_CREATE_VP = def("MSHV_CREATE_VP", iow(0x01, MshvStructs.MSHV_CREATE_VP));
    public static final long MSHV_SET_GUEST_MEMORY = def("MSHV_SET_GUEST_MEMORY", iow(0x02, MshvStructs.MSHV_USER_MEM_REGION));
    public static final long MSHV_IRQFD = def("MSHV_IRQFD", iow(0x03, MshvStructs.MSHV_USER_IRQFD));
    public static final long MSHV_IOEVENTFD = def("MSHV_IOEVENTFD", iow(0x04, MshvStructs.MSHV_USER_IOEVENTFD));
    public static final long MSHV_SET_MSI_ROUTING = def("MSHV_SET_MSI_ROUTING", iow(0x05, MshvStructs.MSHV_USER_IRQ_TABLE));
    public static final long MSHV_GET_GPAP_ACCESS_BITMAP = def("MSHV_GET_GPAP_ACCESS_BITMAP",
            iowr(0x06, MshvStructs.MSHV_GPAP_ACCESS_BITMAP));
    /** On a partition fd or a VP fd; the kernel fills in the partition id of the input. */
    public static final long MSHV_ROOT_HVCALL = def("MSHV_ROOT_HVCALL", iowr(0x07, MshvStructs.MSHV_ROOT_HVCALL));

    // VP fd
    public static final long MSHV_RUN_VP = def("MSHV_RUN_VP", Ioctl.ior(MSHV_IOCTL, 0x00, MshvStructs.MSHV_RUN_VP.byteSize()));
    public static final long MSHV_GET_VP_STATE = def("MSHV_GET_VP_STATE", iowr(0x01, MshvStructs.MSHV_GET_SET_VP_STATE));
    public static final long MSHV_SET_VP_STATE = def("MSHV_SET_VP_STATE", iowr(0x02, MshvStructs.MSHV_GET_SET_VP_STATE));

    private static long iow(int nr, MemoryLayout arg) {
        return Ioctl.iow(MSHV_IOCTL, nr, arg.byteSize());
    }

    private static long iowr(int nr, MemoryLayout arg) {
        return Ioctl.iowr(MSHV_IOCTL, nr, arg.byteSize());
    }
}
