package dev.nimbus.arch.x86_64.boot;

import dev.nimbus.arch.x86_64.X86Layout;
import dev.nimbus.arch.x86_64.acpi.AcpiTables;
import dev.nimbus.arch.x86_64.mptable.MpTable;
import dev.nimbus.arch.x86_64.smbios.Smbios;
import dev.nimbus.hypervisor.arch.BootException;
import dev.nimbus.hypervisor.arch.BootImages;
import dev.nimbus.hypervisor.arch.MachineDescription;
import dev.nimbus.hypervisor.memory.GuestMemory;
import dev.nimbus.hypervisor.memory.GuestMemoryException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HexFormat;
import java.util.List;
import java.util.OptionalLong;

/**
 * Loads a Linux kernel into guest memory with the boot protocol its format calls for: a bzImage with the
 * 64-bit Linux boot protocol, an ELF vmlinux with PVH. Also writes what both need: the command line, the
 * initramfs (at the top of RAM below the 32-bit hole), the ACPI tables, the MP table, SMBIOS and the boot GDT,
 * plus the zero page and page tables (bzImage) or the start info (PVH).
 */
public final class KernelLoader {
    private KernelLoader() {}

    private static final int CHUNK = 16 << 20;

    /** Loads {@code images} into {@code memory}, laid out as {@code machine.layout()} says, with these ACPI tables. */
    public static X86BootPlan load(GuestMemory memory, BootImages images, MachineDescription machine,
                                   List<AcpiTables.Placed> acpi) throws BootException {
        long lowEnd = X86Layout.lowRamEnd(machine.layout());
        if (!memory.contains(0, lowEnd)) {
            throw new IllegalArgumentException(String.format("guest memory does not hold the layout's RAM [0, 0x%x)", lowEnd));
        }
        String kernel = images.kernel().toString();
        try (FileChannel ch = open(images.kernel(), "kernel")) {
            long size = ch.size();
            byte[] head = new byte[(int) Math.min(size, BzImage.PROBE_BYTES)];
            readFully(ch, ByteBuffer.wrap(head), 0, "kernel " + kernel);
            X86BootPlan plan;
            if (BzImage.looksLikeBzImage(head)) {
                plan = loadBzImage(memory, images, machine, ch, BzImage.parse(kernel, head, size), lowEnd);
            } else if (ElfKernel.looksLikeElf(head)) {
                plan = loadPvh(memory, images, machine, ch, size, lowEnd);
            } else {
                throw new BootException(String.format("kernel %s: not a bzImage (no HdrS magic at 0x202) and not an ELF file (starts with %s)",
                        kernel, head.length == 0 ? "nothing: the file is empty"
                                : HexFormat.ofDelimiter(" ").formatHex(head, 0, Math.min(8, head.length))));
            }
            for (AcpiTables.Placed t : acpi) {
                memory.write(t.address(), t.bytes());
            }
            byte[] mpTable = MpTable.build(X86Layout.MPTABLE_START, machine.vcpus(), AcpiTables.ioapicId(machine.vcpus()));
            if (X86Layout.MPTABLE_START + mpTable.length > X86Layout.MPTABLE_END) {
                throw new IllegalStateException("the MP table (" + mpTable.length + " bytes) runs into the SMBIOS tables");
            }
            memory.write(X86Layout.MPTABLE_START, mpTable);
            byte[] smbios = Smbios.build(X86Layout.SMBIOS_START, machine.identity());
            if (X86Layout.SMBIOS_START + smbios.length > ResetVector.ADDRESS) {
                throw new BootException("platform: the SMBIOS tables (" + smbios.length + " bytes) do not fit below the reset vector ("
                        + (ResetVector.ADDRESS - X86Layout.SMBIOS_START) + " bytes): fewer or shorter oem_strings");
            }
            memory.write(X86Layout.SMBIOS_START, smbios);
            memory.write(ResetVector.ADDRESS, ResetVector.code(machine.devices()));
            memory.fill(X86Layout.IDT, 8, (byte) 0);
            return plan;
        } catch (IOException e) {
            throw new BootException("kernel " + kernel + ": cannot read it: " + describe(e), e);
        } catch (GuestMemoryException e) {
            throw new IllegalStateException("guest memory does not hold the boot layout: " + e.getMessage(), e);
        }
    }

    private static X86BootPlan loadBzImage(GuestMemory memory, BootImages images, MachineDescription machine,
                                           FileChannel ch, BzImage image, long lowEnd)
            throws BootException, IOException, GuestMemoryException {
        String kernel = "kernel " + images.kernel();
        long load = image.prefAddress();
        if (load < X86Layout.HIGH_RAM_START || load % image.kernelAlignment() != 0 || load + image.initSize() > lowEnd) {
            load = alignUp(X86Layout.HIGH_RAM_START, image.kernelAlignment()); // relocatable: as low as it may go
        }
        if (load + image.initSize() > lowEnd) {
            throw new BootException(String.format("%s: needs 0x%x bytes (init_size) from 0x%x, but RAM below the 32-bit hole ends at 0x%x",
                    kernel, image.initSize(), load, lowEnd));
        }
        byte[] cmdline = commandLine(images, Math.min(image.cmdlineSize(), X86Layout.CMDLINE_MAX - 1), "the kernel accepts (cmdline_size)");
        copy(ch, image.setupBytes(), image.kernelBytes(), memory, load, kernel);
        memory.write(X86Layout.CMDLINE, cmdline);

        ZeroPage zeroPage = new ZeroPage(image).loadAddress(load).commandLine(X86Layout.CMDLINE)
                .rsdp(X86Layout.ACPI_START).memoryMap(E820Entry.of(machine.layout()));
        long initrdLimit = Math.min(lowEnd, image.initrdAddrMax() + 1);
        Initramfs initramfs = loadInitramfs(memory, images, load + image.initSize(), initrdLimit);
        if (initramfs != null) {
            zeroPage.initramfs(initramfs.address, initramfs.size);
        }
        memory.write(X86Layout.ZERO_PAGE, zeroPage.bytes());
        memory.write(X86Layout.GDT, Gdt.bytes(Gdt.longMode()));
        PageTables.write(memory);
        return new X86BootPlan(X86BootPlan.Mode.LINUX_64, load + BzImage.ENTRY_64_OFFSET, X86Layout.ZERO_PAGE, machine.vcpus(), machine.maxPhysBits());
    }

    private static X86BootPlan loadPvh(GuestMemory memory, BootImages images, MachineDescription machine,
                                       FileChannel ch, long size, long lowEnd)
            throws BootException, IOException, GuestMemoryException {
        String kernel = "kernel " + images.kernel();
        if (size > Integer.MAX_VALUE) {
            throw new BootException(String.format("%s: ELF file of %d bytes is too large to be a kernel", kernel, size));
        }
        MappedByteBuffer file = ch.map(FileChannel.MapMode.READ_ONLY, 0, size);
        ElfKernel elf = ElfKernel.parse(images.kernel().toString(), file);
        OptionalLong entry = elf.pvhEntry();
        if (entry.isEmpty()) {
            throw new BootException(kernel + ": ELF vmlinux has no PVH entry point (no XEN_ELFNOTE_PHYS32_ENTRY note); "
                    + "Nimbus boots an ELF kernel only through PVH");
        }
        for (ElfKernel.Segment s : elf.segments()) {
            if (s.physAddress() < X86Layout.HIGH_RAM_START || s.end() > lowEnd) {
                throw new BootException(String.format("%s: ELF segment at 0x%x+0x%x is outside RAM from 1 MiB to 0x%x",
                        kernel, s.physAddress(), s.memSize(), lowEnd));
            }
        }
        if (elf.segments().stream().noneMatch(s -> entry.getAsLong() >= s.physAddress() && entry.getAsLong() < s.end())) {
            throw new BootException(String.format("%s: PVH entry point 0x%x is not inside a loaded segment", kernel, entry.getAsLong()));
        }
        byte[] cmdline = commandLine(images, X86Layout.CMDLINE_MAX - 1, "Nimbus reserves for it");
        for (ElfKernel.Segment s : elf.segments()) {
            memory.write(s.physAddress(), file.slice((int) s.offset(), (int) s.fileSize()));
            memory.fill(s.physAddress() + s.fileSize(), s.memSize() - s.fileSize(), (byte) 0);
        }
        memory.write(X86Layout.CMDLINE, cmdline);
        Initramfs initramfs = loadInitramfs(memory, images, elf.end(), lowEnd);
        int modules = 0;
        if (initramfs != null) {
            memory.write(X86Layout.PVH_MODLIST, PvhStartInfo.module(initramfs.address, initramfs.size));
            modules = 1;
        }
        List<E820Entry> map = E820Entry.of(machine.layout());
        memory.write(X86Layout.PVH_MEMMAP, PvhStartInfo.memoryMap(map));
        memory.write(X86Layout.PVH_START_INFO, PvhStartInfo.startInfo(modules, modules == 0 ? 0 : X86Layout.PVH_MODLIST,
                X86Layout.CMDLINE, X86Layout.ACPI_START, X86Layout.PVH_MEMMAP, map.size()));
        memory.write(X86Layout.GDT, Gdt.bytes(Gdt.protectedMode()));
        return new X86BootPlan(X86BootPlan.Mode.PVH, entry.getAsLong(), X86Layout.PVH_START_INFO, machine.vcpus(), machine.maxPhysBits());
    }

    private static byte[] commandLine(BootImages images, long max, String whose) throws BootException {
        byte[] text = images.cmdline().getBytes(StandardCharsets.UTF_8);
        if (text.length > max) {
            throw new BootException(String.format("kernel %s: command line is %d bytes, longer than the %d %s",
                    images.kernel(), text.length, max, whose));
        }
        byte[] out = new byte[text.length + 1];
        System.arraycopy(text, 0, out, 0, text.length);
        return out;
    }

    private record Initramfs(long address, long size) {}

    /** Puts the initramfs at the highest page-aligned address below {@code limit} that is above {@code kernelEnd}. */
    private static Initramfs loadInitramfs(GuestMemory memory, BootImages images, long kernelEnd, long limit)
            throws BootException, GuestMemoryException {
        if (images.initramfs().isEmpty()) {
            return null;
        }
        Path path = images.initramfs().get();
        try (FileChannel ch = open(path, "initramfs")) {
            long size = ch.size();
            long floor = alignUp(kernelEnd, 4096);
            long address = (limit - size) & ~4095L;
            if (size == 0) {
                throw new BootException("initramfs " + path + ": the file is empty");
            }
            if (size > limit || address < floor) {
                throw new BootException(String.format("initramfs %s: %d bytes do not fit in RAM between the kernel's end (0x%x) and 0x%x",
                        path, size, floor, limit));
            }
            copy(ch, 0, size, memory, address, "initramfs " + path);
            return new Initramfs(address, size);
        } catch (IOException e) {
            throw new BootException("initramfs " + path + ": cannot read it: " + describe(e), e);
        }
    }

    private static FileChannel open(Path path, String what) throws BootException {
        try {
            return FileChannel.open(path, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new BootException(what + " " + path + ": cannot read it: " + describe(e), e);
        }
    }

    /** Copies {@code length} bytes from {@code position} of the file into guest memory at {@code gpa}. */
    private static void copy(FileChannel ch, long position, long length, GuestMemory memory, long gpa, String what)
            throws IOException, GuestMemoryException, BootException {
        for (long done = 0; done < length; ) {
            int n = (int) Math.min(CHUNK, length - done);
            readFully(ch, memory.buffer(gpa + done, n), position + done, what);
            done += n;
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer dst, long position, String what) throws IOException, BootException {
        long p = position;
        while (dst.hasRemaining()) {
            int n = ch.read(dst, p);
            if (n < 0) {
                throw new BootException(what + ": the file shrank while it was read");
            }
            p += n;
        }
    }

    private static String describe(IOException e) {
        if (e instanceof NoSuchFileException) {
            return "no such file";
        } else if (e instanceof AccessDeniedException) {
            return "permission denied";
        }
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }

    private static long alignUp(long v, long a) {
        return (v + a - 1) & -a;
    }
}
