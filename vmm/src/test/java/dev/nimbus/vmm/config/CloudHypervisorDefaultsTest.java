package dev.nimbus.vmm.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Clients that drive Cloud Hypervisor (generated API clients, serde) send its whole VmConfig with every field
 * at its default. {@code ch-defaults-vmconfig.json} is such a document, written from Cloud Hypervisor's
 * vm_config.rs defaults (v53): each field Nimbus does not build is there at the value that asks for nothing.
 * Nimbus takes it as the plain configuration it amounts to, and refuses any of those fields set to ask for
 * something, naming its path and the value.
 */
class CloudHypervisorDefaultsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    Path dir;
    private Path kernel;

    @BeforeEach
    void kernel() throws Exception {
        kernel = Files.createFile(dir.resolve("vmlinux"));
    }

    private ObjectNode defaultsFilled() throws Exception {
        try (InputStream in = getClass().getResourceAsStream("ch-defaults-vmconfig.json")) {
            String text = new String(in.readAllBytes(), StandardCharsets.UTF_8).replace("@KERNEL@", kernel.toString());
            return (ObjectNode) JSON.readTree(text);
        }
    }

    @Test
    void aDefaultsFilledConfigIsTheConfigItAmountsTo() throws Exception {
        VmConfig filled = VmConfigJson.read(defaultsFilled());
        VmConfig plain = VmConfigJson.read(JSON.readTree("""
                {"payload": {"kernel": "%s", "cmdline": "console=ttyS0"},
                 "disks": [{"path": "/img/root.raw", "id": "_disk0"}],
                 "net": [{"tap": "tap0", "mac": "12:34:56:78:9a:bc", "id": "_net0"}],
                 "rng": {"src": "/dev/urandom"}}
                """.formatted(kernel)));
        assertThat(filled).isEqualTo(plain);
        assertThat(filled.nets().getFirst().queueSize()).as("CH's net queue size").isEqualTo(256);
        assertThat(filled.disks().getFirst().queueSize()).as("CH's disk queue size").isEqualTo(128);
    }

    @Test
    void vmInfoWritesTheDefaultsAndReadsBackUnchanged() throws Exception {
        VmConfig config = VmConfigJson.read(defaultsFilled());
        JsonNode written = VmConfigJson.write(config);
        assertThat(written.at("/memory/thp").asBoolean()).as("CH writes thp: true").isTrue();
        assertThat(written.at("/cpus/max_phys_bits").asInt()).isEqualTo(46);
        assertThat(written.at("/disks/0/image_type").asText()).isEqualTo("Unknown");
        assertThat(written.at("/net/0/offload_csum").asBoolean()).isTrue();
        assertThat(written.at("/debug_console/iobase").asInt()).isEqualTo(233);
        assertThat(written.get("pvpanic").asBoolean()).isFalse();
        assertThat(VmConfigJson.read(written)).isEqualTo(config);
    }

    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource(delimiter = '|', value = {
        "/iommu|true|iommu: true is not supported yet",
        "/watchdog|true|watchdog: true is not supported yet",
        "/pvpanic|true|pvpanic: true is not supported yet",
        "/cpus/kvm_hyperv|true|cpus.kvm_hyperv: true is not supported yet",
        "/cpus/nested|false|cpus.nested: false is not supported yet",
        "/cpus/features|{\"amx\": true}|cpus.features: {\"amx\":true} is not supported yet",
        "/memory/reserve|true|memory.reserve: true is not supported yet",
        "/memory/hotplug_size|1073741824|memory.hotplug_size: 1073741824 is not supported yet",
        "/memory/hotplug_method|\"VirtioMem\"|memory.hotplug_method: \"VirtioMem\" is not supported yet",
        "/disks/0/iommu|true|disks[0].iommu: true is not supported yet",
        "/disks/0/sparse|false|disks[0].sparse: false is not supported yet",
        "/disks/0/image_type|\"Qcow2\"|disks[0].image_type: \"Qcow2\" is not supported yet",
        "/disks/0/vhost_user|true|disks[0].vhost_user: true is not supported yet",
        "/disks/0/pci_segment|1|disks[0].pci_segment: 1 is not supported yet",
        "/net/0/offload_tso|false|net[0].offload_tso: false is not supported yet",
        "/net/0/vhost_mode|\"Server\"|net[0].vhost_mode: \"Server\" is not supported yet",
        "/rng/iommu|true|rng.iommu: true is not supported yet",
        "/console/iommu|true|console.iommu: true is not supported yet",
        "/platform/num_pci_segments|2|platform.num_pci_segments: 2 is not supported yet",
        "/debug_console|{\"mode\": \"Tty\"}|debug_console: {\"mode\":\"Tty\"} is not supported yet",
        "/devices|[{\"path\": \"/sys/bus/pci/devices/0000:01:00.0\"}]|devices: [{\"path\":\"/sys/bus/pci/devices/0000:01:00.0\"}] is not supported yet",
    })
    void aFieldThatAsksForSomethingNimbusLacksIsRefusedWithItsPathAndValue(String pointer, String value, String message)
            throws Exception {
        ObjectNode doc = defaultsFilled();
        int slash = pointer.lastIndexOf('/');
        ObjectNode parent = (ObjectNode) doc.at(pointer.substring(0, slash));
        parent.set(pointer.substring(slash + 1), JSON.readTree(value));
        assertThatThrownBy(() -> VmConfigJson.read(doc)).isInstanceOf(ConfigException.class)
                .hasMessageStartingWith(message.length() > 40 ? message.substring(0, 40) : message)
                .hasMessageEndingWith("is not supported yet");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "--disk|path=/img/a.raw,iommu=off,sparse=on,image_type=raw,lock_granularity=byte-range,pci_segment=0,bw_size=0",
        "--net|tap=tap0,iommu=off,offload_tso=on,offload_ufo=on,offload_csum=on,vhost_mode=client",
        "--memory|size=512M,thp=on,shared=off,hugepages=off,reserve=off,hotplug_method=acpi",
        "--cpus|boot=1,max_phys_bits=46,nested=on,kvm_hyperv=off,core_scheduling=vm",
        "--platform|num_pci_segments=1,iommu_address_width=64,vfio_p2p_dma=on",
        "--rng|src=/dev/urandom,iommu=off",
    })
    void theCommandLineTakesTheSameDefaults(String option, String value) throws Exception {
        VmConfig config = CommandLineConfig.read(java.util.Map.of("--kernel", java.util.List.of(kernel.toString()),
                option, java.util.List.of(value)));
        assertThat(config).isNotNull();
        assertThatThrownBy(() -> CommandLineConfig.read(java.util.Map.of("--kernel", java.util.List.of(kernel.toString()),
                option, java.util.List.of(value.replace("=on", "=flip").replace("=off", "=on").replace("=flip", "=off")
                        .replace("=0", "=2").replace("=1,", "=2,").replace("=46", "=40").replace("=64", "=48")
                        .replace("=raw", "=qcow2").replace("=acpi", "=virtio-mem").replace("=client", "=server")
                        .replace("=vm", "=vcpu").replace("=byte-range", "=full")))))
                .as("the same keys asking for something").isInstanceOf(ConfigException.class).hasMessageContaining("is not supported yet");
    }
}
