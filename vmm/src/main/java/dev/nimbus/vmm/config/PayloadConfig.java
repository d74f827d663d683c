package dev.nimbus.vmm.config;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * {@code --kernel}, {@code --initramfs}, {@code --cmdline} ({@code payload} in VmConfig JSON): what the guest
 * boots. The schema checks the files are there and readable, so a typo is reported before anything is built.
 */
public record PayloadConfig(Path kernel, Optional<Path> initramfs, String cmdline) {
    /** The command line's options (null: not given). */
    public static PayloadConfig of(String kernel, String initramfs, String cmdline) throws ConfigException {
        Map<String, String> given = new HashMap<>();
        given.put("--kernel", kernel);
        given.put("--initramfs", initramfs);
        given.put("--cmdline", cmdline);
        return from(Values.fromOptions(Schema.PAYLOAD, given));
    }

    /** The section's values from either front end. */
    public static PayloadConfig from(Values v) {
        return new PayloadConfig(v.get(Schema.KERNEL), v.find(Schema.INITRAMFS), v.get(Schema.CMDLINE));
    }
}
