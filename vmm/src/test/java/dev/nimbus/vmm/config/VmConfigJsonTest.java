package dev.nimbus.vmm.config;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.nimbus.vmm.config.ConfigException;
import dev.nimbus.vmm.config.ConsoleConfig;
import dev.nimbus.vmm.config.DiskConfig;
import dev.nimbus.vmm.config.NetConfig;
import dev.nimbus.vmm.config.RngConfig;
import dev.nimbus.vmm.config.VmConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** vm.create's VmConfig with virtio devices: read onto the command line's records, with the same checks. */
class VmConfigJsonTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    Path dir;

    /** A VmConfig with a kernel that exists and {@code extra} (",\"disks\":[...]" and so on) added. */
    private String config(String extra) throws IOException {
        Path kernel = Files.writeString(dir.resolve("vmlinuz"), "kernel");
        return "{\"payload\":{\"kernel\":\"" + kernel + "\"},\"console\":{\"mode\":\"Off\"}" + extra + "}";
    }

    private VmConfig read(String extra) throws Exception {
        return VmConfigJson.read(JSON.readTree(config(extra)));
    }

    private void assertRefused(String extra, String apiMessage) {
        assertThatThrownBy(() -> read(extra)).isInstanceOf(ConfigException.class)
                .extracting(e -> ((ConfigException) e).apiMessage()).isEqualTo(apiMessage);
    }

    @Test
    void landlockAndItsRulesReadAsOnTheCommandLineAndWriteBack() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(dev.nimbus.host.Landlock.abiVersion() >= 1, "this kernel has no Landlock");
        VmConfig json = read(",\"landlock_enable\":true,\"landlock_rules\":[{\"path\":\"" + dir + "\",\"access\":\"rw\"}]");
        assertThat(json.landlock()).isEqualTo(new LandlockConfig(true, List.of(new LandlockConfig.Rule(dir, "rw"))));
        VmConfig cli = CommandLineConfig.read(java.util.Map.of("--kernel", List.of(dir.resolve("vmlinuz").toString()),
                "--console", List.of("off"), "--landlock", List.of(""),
                "--landlock-rules", List.of("path=" + dir + ",access=rw")));
        assertThat(cli).isEqualTo(json);
        assertThat(VmConfigJson.read(VmConfigJson.write(json))).isEqualTo(json);
        assertThat(read("").landlock()).isEqualTo(LandlockConfig.OFF);
    }

    @Test
    void badLandlockRulesAreRefusedNamingTheField() {
        assertRefused(",\"landlock_enable\":true,\"landlock_rules\":[{\"path\":\"/nonexistent/x\",\"access\":\"r\"}]",
                "landlock_rules[0].path: /nonexistent/x: no such file or directory");
        assertRefused(",\"landlock_enable\":true,\"landlock_rules\":[{\"path\":\"/\",\"access\":\"x\"}]",
                "landlock_rules[0].access: expected one of r, rw, w, got 'x'");
        assertRefused(",\"landlock_rules\":[{\"path\":\"/\",\"access\":\"r\"}]",
                "landlock_rules: given without landlock_enable: true");
        assertRefused(",\"landlock_enable\":\"yes\"", "landlock_enable: expected a boolean, got a string");
    }

    @Test
    void disksNetRngAndAFileConsoleBecomeTheCommandLinesRecords() throws Exception {
        Path log = dir.resolve("console.log");
        VmConfig c = VmConfigJson.read(JSON.readTree(config(",\"disks\":[{\"path\":\"/img/root.raw\",\"readonly\":true,\"queue_size\":256,\"id\":\"root\","
                + "\"serial\":\"SN1\"},{\"path\":\"/img/data.raw\",\"direct\":false,\"iommu\":null}],"
                + "\"net\":[{\"tap\":\"nimbus0\",\"ip\":\"192.168.249.1\",\"mask\":\"255.255.255.0\",\"mac\":\"12:34:56:78:9a:bc\","
                + "\"num_queues\":2,\"queue_size\":512,\"id\":\"eth0\"}],\"rng\":{\"src\":\"/dev/random\"}")
                .replace("\"console\":{\"mode\":\"Off\"}", "\"console\":{\"mode\":\"File\",\"file\":\"" + log + "\"}")));
        assertThat(c.disks()).containsExactly(
                new DiskConfig(Path.of("/img/root.raw"), true, false, 1, 256, Optional.of("root"), Optional.of("SN1")),
                new DiskConfig(Path.of("/img/data.raw"), false, false, 1, 128, Optional.empty(), Optional.empty()));
        assertThat(c.nets()).containsExactly(new NetConfig(Optional.of("nimbus0"), Optional.of("192.168.249.1"),
                Optional.of("255.255.255.0"), Optional.of("12:34:56:78:9a:bc"), 2, 512,
                Optional.of("eth0")));
        assertThat(c.rng()).contains(new RngConfig(Path.of("/dev/random")));
        assertThat(c.console()).isEqualTo(new ConsoleConfig(ConsoleConfig.Mode.FILE, Optional.of(log)));
        // and the command line reads the same devices to the same records
        assertThat(c.disks().get(0)).isEqualTo(DiskConfig.parse("path=/img/root.raw,readonly=on,queue_size=256,id=root,serial=SN1"));
        assertThat(c.nets().get(0)).isEqualTo(NetConfig.parse(
                "tap=nimbus0,ip=192.168.249.1,mask=255.255.255.0,mac=12:34:56:78:9a:bc,num_queues=2,queue_size=512,id=eth0"));
        assertThat(c.rng().get()).isEqualTo(RngConfig.parse("src=/dev/random"));
    }

    @Test
    void vmInfoWritesTheDevicesBackSoTheyReadTheSame() throws Exception {
        VmConfig c = read(",\"disks\":[{\"path\":\"/a.raw\",\"id\":\"a\"}],\"net\":[{\"tap\":\"\",\"mac\":\"02:00:00:00:00:01\"}],"
                + "\"rng\":{}");
        assertThat(c.nets().get(0).tap()).isEmpty(); // an empty tap: the host picks a name, as tap= does
        assertThat(c.rng()).contains(new RngConfig(Path.of("/dev/urandom")));
        assertThat(VmConfigJson.read(VmConfigJson.write(c))).isEqualTo(c);
    }

    @Test
    void thePlatformsIdentityIsReadUnderEitherOfChsNamesAndWrittenBack() throws Exception {
        VmConfig c = read(",\"platform\":{\"num_pci_segments\":1,\"serial_number\":\"SN-7\",\"uuid\":\"4c4c4544-0051-3710-8057-b5c04f4b4e31\","
                + "\"oem_strings\":[\"a=1\",\"b\"],\"system_manufacturer\":\"Example\",\"system_family\":\"f\"}");
        PlatformConfig p = c.platform();
        assertThat(p).isEqualTo(PlatformConfig.parse(
                "num_pci_segments=1,serial_number=SN-7,uuid=4c4c4544-0051-3710-8057-b5c04f4b4e31,oem_strings=[a=1,b],"
                        + "system_manufacturer=Example,system_family=f"));
        assertThat(p.identity().serialNumber()).contains("SN-7");
        assertThat(p.identity().manufacturer()).isEqualTo("Example");
        assertThat(p.identity().productName()).as("unset: Nimbus's own").isEqualTo("nimbus");
        assertThat(p.identity().oemStrings()).containsExactly("a=1", "b");
        // vm.info writes CH's main names, and they read back to the same configuration
        assertThat(VmConfigJson.write(c).get("platform").get("system_serial_number").textValue()).isEqualTo("SN-7");
        assertThat(VmConfigJson.read(VmConfigJson.write(c))).isEqualTo(c);
        assertThat(read(",\"platform\":{\"system_uuid\":\"4c4c4544-0051-3710-8057-b5c04f4b4e31\"}").platform().uuid())
                .isEqualTo(p.uuid());
        assertThat(read("").platform()).isEqualTo(PlatformConfig.DEFAULT);
    }

    @Test
    void theIrqchipIsAutoByDefaultAndSplitWhenAskedOnEitherFrontEnd() throws Exception {
        assertThat(read("").platform().irqchip()).isEqualTo(dev.nimbus.hypervisor.arch.IrqChipMode.AUTO);
        VmConfig split = read(",\"platform\":{\"irqchip\":\"split\"}");
        assertThat(split.platform()).isEqualTo(PlatformConfig.parse("irqchip=split"));
        assertThat(split.platform().irqchip()).isEqualTo(dev.nimbus.hypervisor.arch.IrqChipMode.SPLIT);
        assertThat(PlatformConfig.parse("irqchip=kernel").irqchip()).isEqualTo(dev.nimbus.hypervisor.arch.IrqChipMode.KERNEL);
        assertThat(VmConfigJson.write(split).get("platform").get("irqchip").textValue()).isEqualTo("split");
        assertThat(VmConfigJson.read(VmConfigJson.write(split))).isEqualTo(split);
        assertThat(VmConfigJson.write(read(",\"platform\":{\"serial_number\":\"SN\"}")).get("platform").has("irqchip"))
                .as("auto, Nimbus's own field, is not written for Cloud Hypervisor's clients").isFalse();
        assertRefused(",\"platform\":{\"irqchip\":\"userspace\"}", "platform.irqchip: expected one of auto, kernel, split, got 'userspace'");
    }

    @Test
    void platformStringsTheFirmwareCannotHoldAreRefusedWithTheirField() {
        assertRefused(",\"platform\":{\"uuid\":\"not-a-uuid\"}",
                "platform.uuid: 'not-a-uuid' is not a UUID (expected 8-4-4-4-12 hexadecimal digits)");
        assertRefused(",\"platform\":{\"oem_strings\":[\"ok\",\"\"]}", "platform.oem_strings: '' is empty");
        assertRefused(",\"platform\":{\"system_version\":\"caf\u00e9\"}",
                "platform.system_version: 'caf\u00e9' has a character other than printable ASCII (U+00E9 at 3)");
        assertRefused(",\"platform\":{\"serial_number\":\"a\",\"system_serial_number\":\"b\"}",
                "platform.serial_number: give either this or platform.system_serial_number, not both");
        assertRefused(",\"platform\":{\"chassis_asset_tag\":\"x\"}", "platform.chassis_asset_tag: \"x\" is not supported yet");
    }

    @Test
    void noDevicesIsNoDevices() throws Exception {
        VmConfig c = read(",\"disks\":null,\"net\":[],\"rng\":null");
        assertThat(c.disks()).isEmpty();
        assertThat(c.nets()).isEmpty();
        assertThat(c.rng()).isEmpty();
    }

    @Test
    void keysTheCommandLineRefusesAreRefusedByFieldName() {
        assertRefused(",\"net\":[{\"tap\":\"t0\"},{\"host_mac\":\"12:34:56:78:9a:bc\"}]", "net[1].host_mac: \"12:34:56:78:9a:bc\" is not supported yet (the tap keeps the MAC address the kernel gave it)");
        assertRefused(",\"net\":[{\"mtu\":9000}]", "net[0].mtu: 9000 is not supported yet (the tap keeps its MTU)");
        assertRefused(",\"disks\":[{\"path\":\"/a.raw\",\"vhost_user\":true}]", "disks[0].vhost_user: true is not supported yet");
        assertRefused(",\"disks\":[{\"path\":\"/a.raw\",\"num_queues\":65}]", "disks[0].num_queues: 65 is out of range (1 to 64)");
        assertRefused(",\"net\":[{\"num_queues\":4}]",
                "net[0].num_queues: 4 needs multiqueue, which is not supported yet (one receive/transmit pair: 2)");
        assertRefused(",\"rng\":{\"iommu\":true}", "rng.iommu: true is not supported yet");
        assertRefused("", "console.socket: required with mode Socket", "Socket");
    }

    private void assertRefused(String extra, String apiMessage, String consoleMode) {
        assertThatThrownBy(() -> VmConfigJson.read(JSON.readTree(config(extra)
                .replace("\"console\":{\"mode\":\"Off\"}", "\"console\":{\"mode\":\"" + consoleMode + "\"}"))))
                .isInstanceOf(ConfigException.class)
                .extracting(e -> ((ConfigException) e).apiMessage()).isEqualTo(apiMessage);
    }

    @Test
    void wrongTypesNameTheFieldAndTheTypeExpected() {
        assertRefused(",\"disks\":{\"path\":\"/a.raw\"}", "disks: expected a JSON array, got an object");
        assertRefused(",\"disks\":[\"/a.raw\"]", "disks[0]: expected a JSON object, got a string");
        assertRefused(",\"disks\":[{\"path\":\"/a.raw\",\"readonly\":\"yes\"}]", "disks[0].readonly: expected a boolean, got a string");
        assertRefused(",\"disks\":[{\"path\":7}]", "disks[0].path: expected a string, got a number");
        assertRefused(",\"net\":[{\"queue_size\":\"big\"}]", "net[0].queue_size: expected an integer, got a string");
        assertRefused(",\"rng\":{\"src\":true}", "rng.src: expected a string, got a boolean");
    }

    @Test
    void badValuesGetTheCommandLinesChecksUnderTheFieldsName() throws Exception {
        assertRefused(",\"disks\":[{\"readonly\":true}]", "disks[0].path: required");
        assertRefused(",\"disks\":[{\"path\":\"/a.raw\",\"queue_size\":100}]", "disks[0].queue_size: 100 is not a power of two");
        assertRefused(",\"net\":[{\"queue_size\":65536}]", "net[0].queue_size: 65536 is out of range (2 to 32768)");
        assertRefused(",\"disks\":[{\"path\":\"/a.raw\",\"queue_size\":1}]", "disks[0].queue_size: 1 is out of range (2 to 32768)");
        assertRefused(",\"net\":[{\"num_queues\":3}]", "net[0].num_queues: 3 is odd (queues come in receive/transmit pairs)");
        assertRefused(",\"net\":[{\"tap\":\"a-very-long-tap-name\"}]", "net[0].tap: 'a-very-long-tap-name' is longer than 15 characters");
        assertRefused(",\"net\":[{\"ip\":\"192.168.1\"}]", "net[0].ip: expected an IPv4 address such as 192.168.249.1, got '192.168.1'");
        assertRefused(",\"net\":[{\"mac\":\"01:00:5e:00:00:01\"}]", "net[0].mac: 01:00:5e:00:00:01 is a multicast address");
        // the command line says the same of the same values, naming its option
        assertThatThrownBy(() -> NetConfig.parse("mac=01:00:5e:00:00:01")).hasMessage("--net mac: 01:00:5e:00:00:01 is a multicast address");
        assertThatThrownBy(() -> DiskConfig.parse("path=/a.raw,queue_size=100")).hasMessage("--disk queue_size: 100 is not a power of two");
    }

    @Test
    void aNulCharacterInAnyStringIsRefusedWithItsField() {
        assertRefused(",\"disks\":[{\"path\":\"/a\\u0000.raw\"}]", "disks[0].path: contains a NUL character");
        assertRefused(",\"rng\":{\"src\":\"/dev/\\u0000urandom\"}", "rng.src: contains a NUL character");
        assertRefused(",\"net\":[{\"id\":\"n\\u00000\"}]", "net[0].id: contains a NUL character");
    }

    @Test
    void memoryTheHostCannotBackIsRefusedWithItsField() {
        assertThatThrownBy(() -> read(",\"memory\":{\"size\":9223372036854771712}")).isInstanceOf(ConfigException.class)
                .extracting(e -> ((ConfigException) e).apiMessage()).asString()
                .startsWith("memory.size: 9223372036854771712 bytes is more than this host's RAM and swap together (");
    }

    @Test
    void unknownFieldsInADeviceAreUnknown() {
        assertRefused(",\"disks\":[{\"path\":\"/a.raw\",\"turbo\":true}]", "disks[0].turbo: unknown field");
        assertRefused(",\"net\":[{\"bridge\":\"br0\"}]", "net[0].bridge: unknown field");
        assertRefused(",\"rng\":{\"path\":\"/dev/random\"}", "rng.path: unknown field");
    }

    @Test
    void theDevicesListsAreKeptInOrder() throws Exception {
        VmConfig c = read(",\"disks\":[{\"path\":\"/b.raw\"},{\"path\":\"/a.raw\"}]");
        assertThat(c.disks().stream().map(d -> d.path().toString()).toList()).isEqualTo(List.of("/b.raw", "/a.raw"));
    }
}
