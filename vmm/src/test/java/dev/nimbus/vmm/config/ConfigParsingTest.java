package dev.nimbus.vmm.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ConfigParsingTest {
    @Test
    void cpusBootAndMax() throws Exception {
        assertThat(CpusConfig.parse("boot=2")).isEqualTo(new CpusConfig(2, 2));
        assertThat(CpusConfig.parse("boot=4,max=4")).isEqualTo(new CpusConfig(4, 4));
    }

    @Test
    void memorySizeSuffixesArePowersOf1024() throws Exception {
        assertThat(MemoryConfig.parse("size=512M").size()).isEqualTo(512L << 20);
        assertThat(MemoryConfig.parse("size=2G").size()).isEqualTo(2L << 30);
        assertThat(MemoryConfig.parse("size=65536K").size()).isEqualTo(64L << 20);
        assertThat(MemoryConfig.parse("size=1g").size()).isEqualTo(1L << 30);
        assertThat(MemoryConfig.parse("size=" + (64L << 20)).size()).isEqualTo(64L << 20);
    }

    @Test
    void consoleModes() throws Exception {
        assertThat(ConsoleConfig.parse("--serial", "tty").mode()).isEqualTo(ConsoleConfig.Mode.TTY);
        assertThat(ConsoleConfig.parse("--serial", "off").mode()).isEqualTo(ConsoleConfig.Mode.OFF);
        assertThat(ConsoleConfig.parse("--serial", "pty").mode()).isEqualTo(ConsoleConfig.Mode.PTY);
        assertThat(ConsoleConfig.parse("--console", "socket=/run/c.sock"))
                .isEqualTo(new ConsoleConfig(ConsoleConfig.Mode.SOCKET, java.util.Optional.empty(), java.util.Optional.of(Path.of("/run/c.sock"))));
        assertThat(ConsoleConfig.parse("--console", "null").mode()).isEqualTo(ConsoleConfig.Mode.NULL);
        ConsoleConfig f = ConsoleConfig.parse("--serial", "file=/tmp/serial.log");
        assertThat(f.mode()).isEqualTo(ConsoleConfig.Mode.FILE);
        assertThat(f.file()).contains(Path.of("/tmp/serial.log"));
    }

    @Test
    void quotedValuesKeepTheirCommas() throws Exception {
        OptionList o = OptionList.parse("--x", "a=\"1,2\",b=[3,[4,5]]", Set.of("a", "b"), Set.of());
        assertThat(o.raw("a")).contains("1,2");
        assertThat(o.raw("b")).contains("[3,[4,5]]");
    }

    @Test
    void memoryOptionsAreRead() throws Exception {
        assertThat(MemoryConfig.parse("size=512M")).isEqualTo(new MemoryConfig(512L << 20));
        assertThat(MemoryConfig.parse("size=512M,shared=on,hugepages=on,hugepage_size=2M,prefault=on,thp=off"))
                .isEqualTo(new MemoryConfig(512L << 20, true, true, java.util.Optional.of(2L << 20), true, false, false));
        assertThat(MemoryConfig.parse("size=64M,mergeable=on").mergeable()).isTrue();
    }

    @Test
    void maxPhysBitsIsCloudHypervisorsDefaultUnlessGiven() throws Exception {
        assertThat(CpusConfig.parse("boot=2").maxPhysBits()).isEqualTo(46);
        assertThat(CpusConfig.parse("boot=2,max_phys_bits=40")).isEqualTo(new CpusConfig(2, 2, 40));
    }

    @Test
    void hugePagesAreTheHostsDefaultSizeWhenNoSizeIsGiven() {
        assertThat(MemoryConfig.hugePageSize("MemTotal:       24000000 kB\nHugepagesize:    2048 kB\nHugetlb: 0 kB\n"))
                .isEqualTo(2L << 20);
        assertThat(MemoryConfig.hugePageSize("Hugepagesize:  524288 kB\n")).as("arm64 with 64 KiB pages").isEqualTo(512L << 20);
        assertThat(MemoryConfig.hugePageSize("MemTotal: 1 kB\n")).as("a kernel without hugetlbfs").isEqualTo(2L << 20);
        assertThat(MemoryConfig.hostHugePageSize()).isPositive();
    }

    @Test
    void memoryIsBoundedByWhatTheHostCanBack() throws Exception {
        assertThat(MemoryConfig.hostProblem(1L << 30, 1L << 30)).isNull();
        assertThat(MemoryConfig.hostProblem(2L << 30, 1L << 30))
                .isEqualTo("2147483648 bytes is more than this host's RAM and swap together (1073741824 bytes)");
        assertThat(MemoryConfig.hostBackable()).as("MemTotal + SwapTotal of /proc/meminfo").isGreaterThan(MemoryConfig.MIN_SIZE);
        assertThatThrownBy(() -> MemoryConfig.parse("size=200000G")).isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("--memory size: 214748364800000 bytes is more than this host's RAM and swap together (");
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource(delimiter = '|', value = {
        "--cpus|boot=0|--cpus boot: 0 is out of range (1 to 255)",
        "--cpus|boot=1,max_phys_bits=31|--cpus max_phys_bits: 31 is out of range (32 to 64)",
        "--cpus|boot=256|--cpus boot: 256 is out of range (1 to 255)",
        "--cpus|boot=two|--cpus boot: expected a whole number, got 'two'",
        "--cpus|boot=-1|--cpus boot: -1 is out of range (1 to 255)",
        "--cpus|bot=2|--cpus: unknown key 'bot' (expected boot=, max=, max_phys_bits=)",
        "--cpus|2|--cpus: '2' is not key=value (expected boot=, max=, max_phys_bits=)",
        "--cpus|boot=2,boot=3|--cpus: key 'boot' given twice",
        "--cpus|boot=4,max=2|--cpus max: 2 is less than the 4 boot vCPUs",
        "--cpus|boot=2,max=4|--cpus max: CPU hot-plug (more vCPUs than the boot ones) is not supported yet",
        "--cpus|boot=2,topology=1:2:1:1|--cpus topology: 1:2:1:1 is not supported yet",
        "--cpus|boot=2,,max=2|--cpus: empty item in 'boot=2,,max=2'",
        "--cpus|boot=2,|--cpus: empty item in 'boot=2,'",
        "--cpus|boot=|--cpus boot: empty value",
        "--memory|size=0|--memory size: 0 bytes is too small (at least 32M)",
        "--memory|size=1M|--memory size: 1048576 bytes is too small (at least 32M)",
        "--memory|size=lots|--memory size: expected a size such as 512M or 2G, got 'lots'",
        "--memory|size=12X|--memory size: expected a size such as 512M or 2G, got '12X'",
        "--memory|size=M|--memory size: expected a size such as 512M or 2G, got 'M'",
        "--memory|size=-512M|--memory size: size '-512M' is out of range",
        "--memory|size=99999999999999G|--memory size: size '99999999999999G' is out of range",
        "--memory|size=33554433|--memory size: 33554433 bytes is not a multiple of 4K",
        "--memory|shared=on,mergeable=on|--memory mergeable: cannot be combined with shared memory",
        "--memory|hugepage_size=2M|--memory hugepage_size: needs hugepages on",
        "--memory|hugepages=on,hugepage_size=3M|--memory hugepage_size: 3145728 bytes is not a power of two",
        "--memory|hugepages=on,size=33M|--memory size: 34603008 bytes is not a whole number of 2097152-byte huge pages",
        "--memory|hugepages=on,hugepage_size=1G,size=512M|--memory size: 536870912 bytes is not a whole number of 1073741824-byte huge pages",
        "--memory|reserve=on|--memory reserve: on is not supported yet",
        "--memory|sise=1G|--memory: unknown key 'sise' (expected hugepage_size=, hugepages=, mergeable=, prefault=, shared=, size=, thp=)",
        "--memory|hotplug_size=1G|--memory hotplug_size: 1G is not supported yet",
        "--memory|1G|--memory: '1G' is not key=value (expected hugepage_size=, hugepages=, mergeable=, prefault=, shared=, size=, thp=)",
        "--memory|size=1G\"|--memory: unterminated quote in 'size=1G\"'",
        "--memory|size=[1G|--memory: unbalanced '[' in 'size=[1G'",
        "--memory|size=1G]|--memory: unbalanced ']' in 'size=1G]'",
    })
    void malformedValuesNameOptionKeyAndExpectation(String option, String text, String message) {
        assertThatThrownBy(() -> {
            if (option.equals("--cpus")) {
                CpusConfig.parse(text);
            } else {
                MemoryConfig.parse(text);
            }
        }).isInstanceOf(ConfigException.class).hasMessage(message);
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource(delimiter = '|', value = {
        "--serial|socket|--serial: 'socket' is not key=value (expected null, off, pty, tty, file=, socket=)",
        "--serial|socket=/tmp/s,file=/tmp/f|--serial socket: cannot be combined with a file",
        "--serial|tty,file=/x|--serial: 'tty' cannot be combined with key=value pairs",
        "--serial|file=/x,tty|--serial: 'tty' is not key=value (expected null, off, pty, tty, file=, socket=)",
        "--serial|screen|--serial: 'screen' is not key=value (expected null, off, pty, tty, file=, socket=)",
        "--console|file=|--console file: empty value",
        "--console|path=/x|--console: unknown key 'path' (expected null, off, pty, tty, file=, socket=)",
    })
    void malformedConsoleValues(String option, String text, String message) {
        assertThatThrownBy(() -> ConsoleConfig.parse(option, text)).isInstanceOf(ConfigException.class).hasMessage(message);
    }

    @Test
    void emptyOptionValueIsRejected() {
        assertThatThrownBy(() -> CpusConfig.parse(" ")).hasMessage("--cpus: empty value (expected boot=, max=, max_phys_bits=)");
    }

    @Test
    void missingKernelFileIsNamed(@TempDir Path dir) {
        assertThatThrownBy(() -> PayloadConfig.of(dir.resolve("vmlinuz").toString(), null, null))
                .isInstanceOf(ConfigException.class)
                .hasMessage("--kernel: " + dir.resolve("vmlinuz") + ": no such file");
    }

    @Test
    void kernelThatIsADirectoryIsRejected(@TempDir Path dir) {
        assertThatThrownBy(() -> PayloadConfig.of(dir.toString(), null, null))
                .hasMessage("--kernel: " + dir + ": not a regular file");
    }

    @Test
    void missingInitramfsIsNamed(@TempDir Path dir) throws Exception {
        Path k = Files.writeString(dir.resolve("k"), "x");
        assertThatThrownBy(() -> PayloadConfig.of(k.toString(), dir.resolve("initrd").toString(), "console=ttyS0"))
                .hasMessage("--initramfs: " + dir.resolve("initrd") + ": no such file");
    }

    @Test
    void payloadKeepsTheCommandLine(@TempDir Path dir) throws Exception {
        Path k = Files.writeString(dir.resolve("k"), "x");
        PayloadConfig p = PayloadConfig.of(k.toString(), null, "console=ttyS0 quiet");
        assertThat(p.cmdline()).isEqualTo("console=ttyS0 quiet");
        assertThat(p.initramfs()).isEmpty();
    }

    @Test
    void diskParsesEveryKey() throws Exception {
        DiskConfig d = DiskConfig.parse("path=/var/a.raw,readonly=on,direct=off,num_queues=1,queue_size=256,id=disk0,serial=\"S,1\"");
        assertThat(d).isEqualTo(new DiskConfig(Path.of("/var/a.raw"), true, false, 1, 256, java.util.Optional.of("disk0"),
                java.util.Optional.of("S,1")));
        assertThat(DiskConfig.parse("path=b.raw")).isEqualTo(new DiskConfig(Path.of("b.raw"), false, false, 1, 128,
                java.util.Optional.empty(), java.util.Optional.empty()));
    }

    @Test
    void netParsesEveryKey() throws Exception {
        NetConfig n = NetConfig.parse("tap=tap0,ip=192.168.249.1,mask=255.255.255.0,mac=12:34:56:78:9a:bc,num_queues=2,queue_size=512,id=net0");
        assertThat(n.tap()).contains("tap0");
        assertThat(n.ip()).contains("192.168.249.1");
        assertThat(n.mask()).contains("255.255.255.0");
        assertThat(n.mac()).contains("12:34:56:78:9a:bc");
        assertThat(n.numQueues()).isEqualTo(2);
        assertThat(n.queueSize()).isEqualTo(512);
        assertThat(n.id()).contains("net0");
        assertThat(NetConfig.parse("tap=,mac=12:34:56:78:9a:bc").tap()).isEmpty().as("CH's tap= with no name: pick one");
    }

    @Test
    void rngDefaultsToUrandom() throws Exception {
        assertThat(RngConfig.parse("src=/dev/random").src()).isEqualTo(Path.of("/dev/random"));
        assertThatThrownBy(() -> RngConfig.parse("")).hasMessage("--rng: empty value (expected src=)");
    }

    @Test
    void apiSocketTakesAPath() throws Exception {
        assertThat(ApiSocketConfig.parse("path=/tmp/n.sock").path()).contains(Path.of("/tmp/n.sock"));
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource(delimiter = '|', value = {
        "--disk|readonly=on|--disk path: required",
        "--disk|path=a.raw,num_queues=65|--disk num_queues: 65 is out of range (1 to 64)",
        "--disk|path=|--disk path: empty value",
        "--disk|path=a.raw,readonly=yes|--disk readonly: expected on or off, got 'yes'",
        "--disk|path=a.raw,direct=1|--disk direct: expected on or off, got '1'",
        "--disk|path=a.raw,num_queues=0|--disk num_queues: 0 is out of range (1 to 64)",
        "--disk|path=a.raw,num_queues=x|--disk num_queues: expected a whole number, got 'x'",
        "--disk|path=a.raw,queue_size=100|--disk queue_size: 100 is not a power of two",
        "--disk|path=a.raw,queue_size=65536|--disk queue_size: 65536 is out of range (2 to 32768)",
        "--disk|path=a.raw,queue_size=1|--disk queue_size: 1 is out of range (2 to 32768)",
        "--net|tap=tap0,queue_size=1|--net queue_size: 1 is out of range (2 to 32768)",
        "--disk|path=a.raw,vhost_user=on|--disk vhost_user: on is not supported yet",
        "--disk|path=a.raw,iommu=on|--disk iommu: on is not supported yet",
        "--disk|path=a.raw,rate_limit_group=g0|--disk rate_limit_group: g0 is not supported yet",
        "--disk|path=a.raw,size=1G|--disk: unknown key 'size' (expected direct=, id=, num_queues=, path=, queue_size=, readonly=, serial=)",
        "--disk|a.raw|--disk: 'a.raw' is not key=value (expected direct=, id=, num_queues=, path=, queue_size=, readonly=, serial=)",
        "--disk|path=a.raw,path=b.raw|--disk: key 'path' given twice",
        "--disk|path=\"a.raw|--disk: unterminated quote in 'path=\"a.raw'",
        "--net|tap=tap0,ip=300.1.1.1|--net ip: expected an IPv4 address such as 192.168.249.1, got '300.1.1.1'",
        "--net|tap=tap0,ip=10.0.0|--net ip: expected an IPv4 address such as 192.168.249.1, got '10.0.0'",
        "--net|tap=tap0,mask=255.255.255.0.0|--net mask: expected an IPv4 address such as 192.168.249.1, got '255.255.255.0.0'",
        "--net|mac=12:34:56:78:9a|--net mac: expected a MAC address such as 12:34:56:78:9a:bc, got '12:34:56:78:9a'",
        "--net|mac=zz:34:56:78:9a:bc|--net mac: expected a MAC address such as 12:34:56:78:9a:bc, got 'zz:34:56:78:9a:bc'",
        "--net|mac=01:00:5e:00:00:01|--net mac: 01:00:5e:00:00:01 is a multicast address",
        "--net|host_mac=02:00:00:00:00:01|--net host_mac: 02:00:00:00:00:01 is not supported yet (the tap keeps the MAC address the kernel gave it)",
        "--net|tap=averyveryverylongtapname|--net tap: 'averyveryverylongtapname' is longer than 15 characters",
        "--net|tap=tap0,mtu=9000|--net mtu: 9000 is not supported yet (the tap keeps its MTU)",
        "--net|tap=tap0,num_queues=4|--net num_queues: 4 needs multiqueue, which is not supported yet (one receive/transmit pair: 2)",
        "--net|tap=tap0,mask=255.255.255.0|--net mask: needs ip too (the mask is the host address's)",
        "--net|tap=tap0,num_queues=3|--net num_queues: 3 is odd (queues come in receive/transmit pairs)",
        "--net|tap=tap0,queue_size=3|--net queue_size: 3 is not a power of two",
        "--net|fd=3|--net fd: 3 is not supported yet",
        "--net|tap=tap0,vhost_user=on|--net vhost_user: on is not supported yet",
        "--net|tap=tap0,offload_tso=off|--net offload_tso: off is not supported yet",
        "--net|tap=tap0,bridge=br0|--net: unknown key 'bridge' (expected id=, ip=, mac=, mask=, num_queues=, queue_size=, tap=)",
        "--rng|src=|--rng src: empty value",
        "--rng|iommu=on|--rng iommu: on is not supported yet",
        "--rng|/dev/urandom|--rng: '/dev/urandom' is not key=value (expected src=)",
        "--rng|source=/dev/random|--rng: unknown key 'source' (expected src=)",
        "--api-socket|fd=three|--api-socket fd: expected a whole number, got 'three'",
        "--api-socket|path=/tmp/n.sock,fd=3|--api-socket: give path=PATH or fd=N, one of them",
        "--api-socket|path=|--api-socket path: empty value",
        "--api-socket|/tmp/n.sock|--api-socket: '/tmp/n.sock' is not key=value (expected fd=, path=)",
        "--api-socket|mode=0600|--api-socket: unknown key 'mode' (expected fd=, path=)",
    })
    void malformedDeviceAndApiValuesNameOptionKeyAndExpectation(String option, String text, String message) {
        assertThatThrownBy(() -> {
            switch (option) {
                case "--disk" -> DiskConfig.parse(text);
                case "--net" -> NetConfig.parse(text);
                case "--rng" -> RngConfig.parse(text);
                default -> ApiSocketConfig.parse(text);
            }
        }).isInstanceOf(ConfigException.class).hasMessage(message);
    }

    @Test
    void anApiSocketPathLongerThanTheKernelAllowsIsRefused() {
        assertThatThrownBy(() -> ApiSocketConfig.parse("path=/" + "s".repeat(120)))
                .hasMessage("--api-socket path: longer than 107 bytes, the limit of a Unix socket path");
    }

    @Test
    void firmwareIsRefusedByNameUntilItIsBuilt(@TempDir Path dir) throws Exception {
        Path kernel = Files.createFile(dir.resolve("vmlinux"));
        assertThatThrownBy(() -> CommandLineConfig.read(Map.of("--kernel", List.of(kernel.toString()),
                "--firmware", List.of("fw.bin"))))
                .hasMessage("--firmware: fw.bin is not supported yet (Nimbus boots a kernel directly)");
    }

    @Test
    void serialAndConsoleCannotBothHaveTheTerminal(@TempDir Path dir) throws Exception {
        Path kernel = Files.createFile(dir.resolve("vmlinux"));
        Map<String, List<String>> tty = Map.of("--kernel", List.of(kernel.toString()), "--serial", List.of("tty"));
        assertThatThrownBy(() -> CommandLineConfig.read(tty)).isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("--serial tty and --console tty: only one of them can have the terminal");
        assertThat(CommandLineConfig.read(Map.of("--kernel", List.of(kernel.toString()), "--serial", List.of("tty"),
                "--console", List.of("null"))).serial().mode()).isEqualTo(ConsoleConfig.Mode.TTY);
        assertThat(CommandLineConfig.read(Map.of("--kernel", List.of(kernel.toString()))).console().mode())
                .isEqualTo(ConsoleConfig.Mode.TTY);
    }
}
