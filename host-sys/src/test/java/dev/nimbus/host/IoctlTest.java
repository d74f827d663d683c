package dev.nimbus.host;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class IoctlTest {
    // Reference values as the kernel's _IO/_IOR/_IOW/_IOWR macros compute them (linux/kvm.h, KVMIO = 0xAE).
    @Test
    void ioWithoutArgumentEncodesTypeAndNumberOnly() {
        assertThat(Ioctl.io(0xAE, 0x01)).isEqualTo(0xAE01L); // KVM_CREATE_VM
    }

    @Test
    void iowEncodesWriteDirectionAndSize() {
        // KVM_SET_USER_MEMORY_REGION = _IOW(KVMIO, 0x46, struct kvm_userspace_memory_region) (32 bytes)
        assertThat(Ioctl.iow(0xAE, 0x46, 32)).isEqualTo(0x4020AE46L);
    }

    @Test
    void iorEncodesReadDirectionAndSize() {
        // KVM_GET_REGS = _IOR(KVMIO, 0x81, struct kvm_regs) (144 bytes on x86-64)
        assertThat(Ioctl.ior(0xAE, 0x81, 144)).isEqualTo(0x8090AE81L);
    }

    @Test
    void iowrSetsBothDirectionBits() {
        // KVM_GET_SUPPORTED_CPUID = _IOWR(KVMIO, 0x05, struct kvm_cpuid2) (8 bytes header)
        assertThat(Ioctl.iowr(0xAE, 0x05, 8)).isEqualTo(0xC008AE05L);
    }

    @Test
    void sizeThatDoesNotFitFourteenBitsIsRejected() {
        assertThatThrownBy(() -> Ioctl.iow(0xAE, 1, 1 << 14))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("14 bits");
    }
}
