package dev.nimbus.vmm.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The schema holds the command line and VmConfig JSON to one set of settings: every setting Nimbus builds
 * has a name on both, the same values read from either give the same configuration, and what Nimbus does
 * not build yet is refused by name on the front end that has it.
 */
class SchemaTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void everyBuiltSettingOfADeviceOrVmSectionHasANameOnBothFrontEnds() {
        for (Section s : Schema.SECTIONS) {
            if (s == Schema.API_SOCKET || s == Schema.RESTORE || s == Schema.NOT_YET) {
                continue; // where the API listens, or the snapshot a VM comes from (vm.restore's own body), is not part
                          // of a VM; NOT_YET holds refusals only
            }
            // a section of one-value options without a JSON object of its own has its fields at VmConfig's top level
            assertThat(s.json().isPresent() || s.option().isEmpty()).as("%s in VmConfig JSON", s).isTrue();
            for (Field<?> f : s.fields()) {
                if (f.isNotYet()) {
                    assertThat(f.cli().isPresent() || f.json().isPresent()).as("%s of %s has a name", f, s).isTrue();
                    continue;
                }
                assertThat(f.json()).as("%s of %s in JSON", f, s).isPresent();
                assertThat(f.cli().isPresent() || s.bareField().orElse(null) == f).as("%s of %s on the command line", f, s).isTrue();
            }
        }
    }

    @Test
    void namesAreUniqueWithinASectionAndOptionsAcrossTheSchema() {
        Set<String> options = new HashSet<>();
        for (Section s : Schema.SECTIONS) {
            s.option().ifPresent(o -> assertThat(options.add(o)).as("option %s declared once", o).isTrue());
            Set<String> cli = new HashSet<>();
            Set<String> json = new HashSet<>();
            for (Field<?> f : s.fields()) {
                f.cli().ifPresent(n -> assertThat(cli.add(n)).as("%s %s declared once", s, n).isTrue());
                f.json().ifPresent(n -> assertThat(json.add(n)).as("%s.%s declared once", s, n).isTrue());
                if (s.option().isEmpty()) {
                    f.cli().ifPresent(o -> assertThat(options.add(o)).as("option %s declared once", o).isTrue());
                }
            }
        }
    }

    @Test
    void theSameSettingsGiveTheSameConfigurationOnBothFrontEnds(@TempDir Path dir) throws Exception {
        Path kernel = Files.createFile(dir.resolve("vmlinux"));
        Path initrd = Files.createFile(dir.resolve("initrd"));
        Path log = dir.resolve("serial.log");
        VmConfig cli = CommandLineConfig.read(Map.of(
                "--cpus", List.of("boot=2,max=2"),
                "--memory", List.of("size=64M"),
                "--kernel", List.of(kernel.toString()), "--initramfs", List.of(initrd.toString()),
                "--cmdline", List.of("console=hvc0 quiet"),
                "--serial", List.of("file=" + log), "--console", List.of("off"),
                "--disk", List.of("path=/img/a.raw,readonly=on,queue_size=64,id=root,serial=S1", "path=/img/b.raw"),
                "--net", List.of("tap=tap7,ip=192.168.249.1,mask=255.255.255.0,mac=12:34:56:78:9a:bc,queue_size=256,id=n0"),
                "--rng", List.of("src=/dev/random")));
        JsonNode json = JSON.readTree("""
                {"cpus": {"boot_vcpus": 2, "max_vcpus": 2}, "memory": {"size": 67108864},
                 "payload": {"kernel": "%s", "initramfs": "%s", "cmdline": "console=hvc0 quiet"},
                 "serial": {"mode": "File", "file": "%s"}, "console": {"mode": "Off"},
                 "disks": [{"path": "/img/a.raw", "readonly": true, "queue_size": 64, "id": "root", "serial": "S1"},
                           {"path": "/img/b.raw"}],
                 "net": [{"tap": "tap7", "ip": "192.168.249.1", "mask": "255.255.255.0", "mac": "12:34:56:78:9a:bc",
                          "queue_size": 256, "id": "n0"}],
                 "rng": {"src": "/dev/random"}}
                """.formatted(kernel, initrd, log));
        VmConfig api = VmConfigJson.read(json);

        assertThat(api).isEqualTo(cli);
        assertThat(cli.disks()).hasSize(2);
        assertThat(cli.disks().get(1).queueSize()).as("a default").isEqualTo(128);
        assertThat(cli.nets().getFirst().tap()).contains("tap7");
        // and vm.info writes what vm.create reads
        assertThat(VmConfigJson.read(VmConfigJson.write(cli))).isEqualTo(cli);
    }

    @Test
    void defaultsAreTheSameOnBothFrontEnds(@TempDir Path dir) throws Exception {
        Path kernel = Files.createFile(dir.resolve("vmlinux"));
        VmConfig cli = CommandLineConfig.read(Map.of("--kernel", List.of(kernel.toString())));
        VmConfig api = VmConfigJson.read(JSON.readTree("{\"payload\": {\"kernel\": \"" + kernel + "\"}}"));
        assertThat(api).isEqualTo(cli);
        assertThat(cli.cpus()).isEqualTo(CpusConfig.DEFAULT);
        assertThat(cli.memory()).isEqualTo(MemoryConfig.DEFAULT);
        assertThat(cli.serial().mode()).isEqualTo(ConsoleConfig.Mode.NULL);
        assertThat(cli.console().mode()).isEqualTo(ConsoleConfig.Mode.TTY);
        assertThat(cli.rng()).isEqualTo(Optional.empty());
    }

    @Test
    void everySettingNotBuiltYetIsRefusedByNameOnEachFrontEndThatHasIt(@TempDir Path dir) throws Exception {
        Path kernel = Files.createFile(dir.resolve("vmlinux"));
        for (Section s : Schema.SECTIONS) {
            for (Field<?> f : s.fields()) {
                if (!f.isNotYet()) {
                    continue;
                }
                if (f.cli().isPresent()) {
                    Map<String, List<String>> given = s.option()
                            .map(o -> Map.of("--kernel", List.of(kernel.toString()), o, List.of(f.cli().get() + "=7")))
                            .orElse(Map.of("--kernel", List.of(kernel.toString()), f.cli().get(), List.of("7")));
                    if (s == Schema.API_SOCKET) {
                        assertThatThrownBy(() -> ApiSocketConfig.parse(f.cli().get() + "=7"))
                                .hasMessageStartingWith(f.option() + ": 7 is not supported yet");
                        continue;
                    }
                    assertThatThrownBy(() -> CommandLineConfig.read(given)).as("%s", f.option())
                            .isInstanceOf(ConfigException.class).hasMessageStartingWith(f.option() + ": 7 is not supported yet");
                }
                if (f.json().isPresent() && s.json().isPresent() || s == Schema.NOT_YET && f.json().isPresent()) {
                    String member = "{\"" + f.json().get() + "\": 7}";
                    String body = s == Schema.NOT_YET
                            ? "{\"payload\": {\"kernel\": \"" + kernel + "\"}, \"" + f.json().get() + "\": 7}"
                            : s == Schema.PAYLOAD
                            ? "{\"payload\": {\"kernel\": \"" + kernel + "\", \"" + f.json().get() + "\": 7}}"
                            : "{\"payload\": {\"kernel\": \"" + kernel + "\"}, \"" + s.json().get() + "\": "
                                    + (s.isList() ? "[" + member + "]" : member) + "}";
                    assertThatThrownBy(() -> VmConfigJson.read(JSON.readTree(body))).as("%s", f.jsonPath(0))
                            .isInstanceOf(ConfigException.class).hasMessageStartingWith(f.jsonPath(0) + ": 7 is not supported yet");
                }
            }
        }
    }
}
