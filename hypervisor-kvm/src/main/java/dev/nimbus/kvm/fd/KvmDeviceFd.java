package dev.nimbus.kvm.fd;

import dev.nimbus.host.NativeIoctl;
import dev.nimbus.host.Errno;
import dev.nimbus.host.SyscallException;

import java.lang.foreign.MemorySegment;

import static dev.nimbus.kvm.abi.KvmIoctls.KVM_GET_DEVICE_ATTR;
import static dev.nimbus.kvm.abi.KvmIoctls.KVM_HAS_DEVICE_ATTR;
import static dev.nimbus.kvm.abi.KvmIoctls.KVM_SET_DEVICE_ATTR;
import static dev.nimbus.kvm.abi.KvmStructs.DEVICE_ATTR_ADDR;
import static dev.nimbus.kvm.abi.KvmStructs.DEVICE_ATTR_ATTR;
import static dev.nimbus.kvm.abi.KvmStructs.DEVICE_ATTR_GROUP;
import static dev.nimbus.kvm.abi.KvmStructs.KVM_DEVICE_ATTR;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * An in-kernel device's file descriptor ({@code KVM_CREATE_DEVICE}): the vGICv3 and its ITS, the riscv AIA.
 * Configured through attributes: a group, an attribute id and a 64-bit value the kernel reads or writes
 * through a pointer (or no value, for control attributes such as {@code CTRL_INIT}).
 */
public final class KvmDeviceFd extends KvmFd {
    private final int type;

    KvmDeviceFd(int fd, int type, NativeIoctl nativeIoctl) {
        super(fd, nativeIoctl);
        this.type = type;
    }

    /** The KVM_DEV_TYPE_* this device was created as. */
    public int type() {
        return type;
    }

    private static final long ATTR_SIZE = KVM_DEVICE_ATTR.byteSize();

    /** A zeroed kvm_device_attr at offset 0 of the scratch, with room for its value right behind it. */
    private static MemorySegment attr(int group, long attribute, boolean withValue) {
        MemorySegment s = scratch(ATTR_SIZE + 8);
        s.set(JAVA_INT, DEVICE_ATTR_GROUP, group);
        s.set(JAVA_LONG, DEVICE_ATTR_ATTR, attribute);
        s.set(JAVA_LONG, DEVICE_ATTR_ADDR, withValue ? s.address() + ATTR_SIZE : 0);
        return s;
    }

    private String name(String ioctl, int group, long attribute) {
        return ioctl + "(type " + type + ", group " + group + ", attr " + attribute + ")";
    }

    /** {@code KVM_SET_DEVICE_ATTR} with a 64-bit value. */
    public void setAttr(int group, long attribute, long value) {
        MemorySegment s = attr(group, attribute, true);
        s.set(JAVA_LONG, ATTR_SIZE, value);
        ioctl(KVM_SET_DEVICE_ATTR, s, name("KVM_SET_DEVICE_ATTR", group, attribute));
    }

    /** {@code KVM_SET_DEVICE_ATTR} with a 32-bit value (attributes the kernel reads as u32). */
    public void setAttr32(int group, long attribute, int value) {
        MemorySegment s = attr(group, attribute, true);
        s.set(JAVA_INT, ATTR_SIZE, value);
        ioctl(KVM_SET_DEVICE_ATTR, s, name("KVM_SET_DEVICE_ATTR", group, attribute));
    }

    /** {@code KVM_SET_DEVICE_ATTR} without a value (control attributes). */
    public void setAttr(int group, long attribute) {
        ioctl(KVM_SET_DEVICE_ATTR, attr(group, attribute, false), name("KVM_SET_DEVICE_ATTR", group, attribute));
    }

    /** {@code KVM_GET_DEVICE_ATTR} of a 64-bit value. */
    public long getAttr(int group, long attribute) {
        MemorySegment s = attr(group, attribute, true);
        ioctl(KVM_GET_DEVICE_ATTR, s, name("KVM_GET_DEVICE_ATTR", group, attribute));
        return s.get(JAVA_LONG, ATTR_SIZE);
    }

    /** {@code KVM_GET_DEVICE_ATTR} of a 32-bit value (attributes the kernel writes as u32: vGIC registers). */
    public int getAttr32(int group, long attribute) {
        MemorySegment s = attr(group, attribute, true);
        ioctl(KVM_GET_DEVICE_ATTR, s, name("KVM_GET_DEVICE_ATTR", group, attribute));
        return s.get(JAVA_INT, ATTR_SIZE);
    }

    /** {@code KVM_HAS_DEVICE_ATTR}: whether the device knows the attribute (ENXIO means it does not). */
    public boolean hasAttr(int group, long attribute) {
        String name = name("KVM_HAS_DEVICE_ATTR", group, attribute);
        int r = ioctlErrno(KVM_HAS_DEVICE_ATTR, attr(group, attribute, false), name);
        if (r >= 0) {
            return true;
        }
        if (-r == Errno.ENXIO) {
            return false;
        }
        throw new SyscallException(name, -r);
    }

}
