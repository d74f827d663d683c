package dev.nimbus.arch.x86_64.boot;

import dev.nimbus.testsupport.HostTools;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The offsets the loaders write at, checked against the C headers that define them: the kernel's
 * {@code asm/bootparam.h} (linux-libc-dev) and Xen's {@code hvm/start_info.h} (libxen-dev), compiled with gcc.
 */
class StructLayoutTest {
    @TempDir
    static Path dir;
    static Map<String, Long> bootParams;
    static Map<String, Long> startInfo;

    @BeforeAll
    static void compile() throws Exception {
        HostTools.ensurePackages("gcc", "libc6-dev", "linux-libc-dev", "libxen-dev");
        bootParams = offsets("""
                #include <stddef.h>
                #include <stdio.h>
                #include <asm/bootparam.h>
                #define P(name, expr) printf("%s %lu\\n", name, (unsigned long)(expr))
                #define O(f) P(#f, offsetof(struct boot_params, f))
                int main(void) {
                  O(acpi_rsdp_addr); O(ext_ramdisk_image); O(ext_ramdisk_size); O(ext_cmd_line_ptr);
                  O(e820_entries); O(e820_table); O(hdr);
                  O(hdr.setup_sects); O(hdr.syssize); O(hdr.boot_flag); O(hdr.jump); O(hdr.header); O(hdr.version);
                  O(hdr.kernel_version); O(hdr.type_of_loader); O(hdr.loadflags); O(hdr.code32_start);
                  O(hdr.ramdisk_image); O(hdr.ramdisk_size); O(hdr.cmd_line_ptr); O(hdr.initrd_addr_max);
                  O(hdr.kernel_alignment); O(hdr.relocatable_kernel); O(hdr.xloadflags); O(hdr.cmdline_size);
                  O(hdr.payload_offset); O(hdr.payload_length); O(hdr.pref_address); O(hdr.init_size);
                  P("sizeof_boot_params", sizeof(struct boot_params));
                  P("sizeof_e820_entry", sizeof(struct boot_e820_entry));
                  P("e820_max", sizeof(((struct boot_params *)0)->e820_table) / sizeof(struct boot_e820_entry));
                  P("hdr_end", offsetof(struct boot_params, hdr) + sizeof(struct setup_header));
                  return 0;
                }
                """, "bootparams");
        startInfo = offsets("""
                #include <stddef.h>
                #include <stdint.h>
                #include <stdio.h>
                #include <xen/arch-x86/hvm/start_info.h>
                #define P(name, expr) printf("%s %lu\\n", name, (unsigned long)(expr))
                int main(void) {
                  P("magic", XEN_HVM_START_MAGIC_VALUE);
                  P("nr_modules", offsetof(struct hvm_start_info, nr_modules));
                  P("modlist_paddr", offsetof(struct hvm_start_info, modlist_paddr));
                  P("cmdline_paddr", offsetof(struct hvm_start_info, cmdline_paddr));
                  P("rsdp_paddr", offsetof(struct hvm_start_info, rsdp_paddr));
                  P("memmap_paddr", offsetof(struct hvm_start_info, memmap_paddr));
                  P("memmap_entries", offsetof(struct hvm_start_info, memmap_entries));
                  P("sizeof_start_info", sizeof(struct hvm_start_info));
                  P("sizeof_modlist_entry", sizeof(struct hvm_modlist_entry));
                  P("sizeof_memmap_entry", sizeof(struct hvm_memmap_table_entry));
                  P("memmap_type", offsetof(struct hvm_memmap_table_entry, type));
                  P("ram_type", XEN_HVM_MEMMAP_TYPE_RAM);
                  P("reserved_type", XEN_HVM_MEMMAP_TYPE_RESERVED);
                  return 0;
                }
                """, "startinfo");
    }

    private static Map<String, Long> offsets(String program, String name) throws Exception {
        Path c = dir.resolve(name + ".c");
        Files.writeString(c, program);
        HostTools.run(dir, List.of("gcc", "-o", name, c.toString()));
        Map<String, Long> out = new HashMap<>();
        for (String line : HostTools.run(dir, List.of(dir.resolve(name).toString())).split("\n")) {
            String[] kv = line.trim().split(" ");
            out.put(kv[0], Long.parseLong(kv[1]));
        }
        return out;
    }

    @Test
    void zeroPageOffsetsMatchTheKernelsBootParams() {
        assertThat(bootParams).containsEntry("acpi_rsdp_addr", (long) ZeroPage.ACPI_RSDP_ADDR)
                .containsEntry("ext_ramdisk_image", (long) ZeroPage.EXT_RAMDISK_IMAGE)
                .containsEntry("ext_ramdisk_size", (long) ZeroPage.EXT_RAMDISK_SIZE)
                .containsEntry("ext_cmd_line_ptr", (long) ZeroPage.EXT_CMD_LINE_PTR)
                .containsEntry("e820_entries", (long) ZeroPage.E820_ENTRIES)
                .containsEntry("e820_table", (long) ZeroPage.E820_TABLE)
                .containsEntry("sizeof_boot_params", (long) ZeroPage.SIZE)
                .containsEntry("sizeof_e820_entry", (long) ZeroPage.E820_ENTRY_SIZE)
                .containsEntry("e820_max", (long) ZeroPage.E820_MAX_ENTRIES);
    }

    @Test
    void setupHeaderOffsetsMatchTheKernelsSetupHeader() {
        assertThat(bootParams).containsEntry("hdr", (long) BzImage.SETUP_SECTS)
                .containsEntry("hdr.setup_sects", (long) BzImage.SETUP_SECTS)
                .containsEntry("hdr.syssize", (long) BzImage.SYSSIZE)
                .containsEntry("hdr.boot_flag", (long) BzImage.BOOT_FLAG)
                .containsEntry("hdr.jump", (long) BzImage.JUMP)
                .containsEntry("hdr.header", (long) BzImage.HEADER_MAGIC)
                .containsEntry("hdr.version", (long) BzImage.VERSION)
                .containsEntry("hdr.kernel_version", (long) BzImage.KERNEL_VERSION)
                .containsEntry("hdr.type_of_loader", (long) BzImage.TYPE_OF_LOADER)
                .containsEntry("hdr.loadflags", (long) BzImage.LOADFLAGS)
                .containsEntry("hdr.code32_start", (long) BzImage.CODE32_START)
                .containsEntry("hdr.ramdisk_image", (long) BzImage.RAMDISK_IMAGE)
                .containsEntry("hdr.ramdisk_size", (long) BzImage.RAMDISK_SIZE)
                .containsEntry("hdr.cmd_line_ptr", (long) BzImage.CMD_LINE_PTR)
                .containsEntry("hdr.initrd_addr_max", (long) BzImage.INITRD_ADDR_MAX)
                .containsEntry("hdr.kernel_alignment", (long) BzImage.KERNEL_ALIGNMENT)
                .containsEntry("hdr.relocatable_kernel", (long) BzImage.RELOCATABLE_KERNEL)
                .containsEntry("hdr.xloadflags", (long) BzImage.XLOADFLAGS)
                .containsEntry("hdr.cmdline_size", (long) BzImage.CMDLINE_SIZE)
                .containsEntry("hdr.payload_offset", (long) BzImage.PAYLOAD_OFFSET)
                .containsEntry("hdr.payload_length", (long) BzImage.PAYLOAD_LENGTH)
                .containsEntry("hdr.pref_address", (long) BzImage.PREF_ADDRESS)
                .containsEntry("hdr.init_size", (long) BzImage.INIT_SIZE);
    }

    @Test
    void setupHeaderEndsWithinTheLimitTheParserAllows() {
        assertThat(bootParams.get("hdr_end")).isLessThanOrEqualTo(BzImage.HEADER_LIMIT);
    }

    @Test
    void pvhStartInfoOffsetsMatchXensHeader() {
        assertThat(startInfo).containsEntry("magic", (long) PvhStartInfo.MAGIC)
                .containsEntry("nr_modules", (long) PvhStartInfo.NR_MODULES)
                .containsEntry("modlist_paddr", (long) PvhStartInfo.MODLIST_PADDR)
                .containsEntry("cmdline_paddr", (long) PvhStartInfo.CMDLINE_PADDR)
                .containsEntry("rsdp_paddr", (long) PvhStartInfo.RSDP_PADDR)
                .containsEntry("memmap_paddr", (long) PvhStartInfo.MEMMAP_PADDR)
                .containsEntry("memmap_entries", (long) PvhStartInfo.MEMMAP_ENTRIES)
                .containsEntry("sizeof_start_info", (long) PvhStartInfo.SIZE)
                .containsEntry("sizeof_modlist_entry", (long) PvhStartInfo.MODLIST_ENTRY_SIZE)
                .containsEntry("sizeof_memmap_entry", (long) PvhStartInfo.MEMMAP_ENTRY_SIZE)
                .containsEntry("memmap_type", 16L)
                .containsEntry("ram_type", (long) E820Entry.RAM)
                .containsEntry("reserved_type", (long) E820Entry.RESERVED);
    }

    @Test
    void pvhStructuresAreWrittenAtThoseOffsets() {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(PvhStartInfo.startInfo(1, 0x6040, 0x20000, 0xe0000, 0x6100, 7))
                .order(java.nio.ByteOrder.LITTLE_ENDIAN);
        assertThat(b.getInt(0)).isEqualTo(startInfo.get("magic").intValue());
        assertThat(b.getInt(startInfo.get("nr_modules").intValue())).isEqualTo(1);
        assertThat(b.getLong(startInfo.get("modlist_paddr").intValue())).isEqualTo(0x6040);
        assertThat(b.getLong(startInfo.get("cmdline_paddr").intValue())).isEqualTo(0x20000);
        assertThat(b.getLong(startInfo.get("rsdp_paddr").intValue())).isEqualTo(0xe0000);
        assertThat(b.getLong(startInfo.get("memmap_paddr").intValue())).isEqualTo(0x6100);
        assertThat(b.getInt(startInfo.get("memmap_entries").intValue())).isEqualTo(7);
    }
}
