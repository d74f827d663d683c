package dev.nimbus.arch.fdt;

import dev.nimbus.testsupport.Dtc;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class FdtWriterTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void dtc() {
        Dtc.ensure();
    }

    /** The same tree as {@link #sampleTree()}, as dts source. */
    private static final String SAMPLE_SOURCE = """
            /dts-v1/;
            /memreserve/ 0x40000000 0x10000;
            /memreserve/ 0x123456789000 0x2000;
            / {
                #address-cells = <2>;
                #size-cells = <2>;
                compatible = "vendor,board", "vendor,soc";
                linux,code = <7>;
                chosen {
                    bootargs = "console=ttyAMA0 root=/dev/vda";
                };
                node@1000 {
                    reg = <0x0 0x1000 0x0 0x100>;
                    empty;
                    code = <7>;
                    bytes = [01 02 03];
                    child {
                        big = <0x12345678 0x9abcdef0>;
                    };
                };
                long-node-name_with.chars {
                };
            };
            """;

    private static byte[] sampleTree() {
        return new FdtWriter()
                .reserveMemory(0x4000_0000L, 0x10000)
                .reserveMemory(0x1234_5678_9000L, 0x2000)
                .beginNode("")
                .cells("#address-cells", 2)
                .cells("#size-cells", 2)
                .string("compatible", "vendor,board", "vendor,soc")
                .cells("linux,code", 7)
                .beginNode("chosen").string("bootargs", "console=ttyAMA0 root=/dev/vda").endNode()
                .beginNode("node@1000")
                .cells64("reg", 0x1000, 0x100)
                .property("empty")
                .cells("code", 7)
                .property("bytes", new byte[] {1, 2, 3})
                .beginNode("child").cells64("big", 0x1234_5678_9abc_def0L).endNode()
                .endNode()
                .beginNode("long-node-name_with.chars").endNode()
                .endNode()
                .finish(0);
    }

    @Test
    void aTreeIsByteForByteWhatDtcCompilesFromTheSameSource() throws Exception {
        assertThat(sampleTree()).isEqualTo(Dtc.compile(dir, SAMPLE_SOURCE));
    }

    @Test
    void aPropertyNameThatEndsAnotherSharesItsString() {
        byte[] blob = sampleTree();
        ByteBuffer b = ByteBuffer.wrap(blob);
        int stringsSize = b.getInt(32);
        String strings = new String(blob, b.getInt(12), stringsSize, java.nio.charset.StandardCharsets.US_ASCII);
        assertThat(strings).contains("linux,code\0").doesNotContain("\0code\0");
    }

    @Test
    void theHeaderSaysVersion17AndTheBootCpu() {
        byte[] blob = new FdtWriter().beginNode("").endNode().finish(0x101);
        ByteBuffer b = ByteBuffer.wrap(blob);
        assertThat(b.getInt(0)).isEqualTo(0xd00dfeed);
        assertThat(b.getInt(4)).isEqualTo(blob.length);
        assertThat(b.getInt(20)).isEqualTo(17);
        assertThat(b.getInt(24)).isEqualTo(16);
        assertThat(b.getInt(28)).isEqualTo(0x101);
    }

    @Test
    void aPropertyAfterAChildNodeIsRefused() {
        FdtWriter w = new FdtWriter().beginNode("").beginNode("a").endNode();
        assertThatThrownBy(() -> w.cells("late", 1)).isInstanceOf(IllegalStateException.class).hasMessageContaining("late");
    }

    @Test
    void aTreeWithAnOpenNodeCannotBeFinished() {
        FdtWriter w = new FdtWriter().beginNode("").beginNode("a");
        assertThatThrownBy(() -> w.finish(0)).isInstanceOf(IllegalStateException.class).hasMessageContaining("2 node(s) still open");
    }

    @Test
    void aNodeNameWithASpaceIsRefused() {
        FdtWriter w = new FdtWriter().beginNode("");
        assertThatThrownBy(() -> w.beginNode("bad name")).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bad name");
    }
}
