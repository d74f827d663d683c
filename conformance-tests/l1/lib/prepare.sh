# Sourced after common.sh. Builds (once) and locates what an L1 guest of one architecture needs:
# QEMU, the Debian kernel and its modules, busybox, the initramfs and, for aarch64/riscv64, a root
# filesystem with a Java 25 runtime. Each prepare_* function sets shell variables named in its comment.
# shellcheck shell=bash

# Which Debian release each piece comes from. x86-64 L1 runs bookworm's 6.1 kernel (the combination
# measured in long KVM-heavy runs); the other architectures take trixie's kernel and Java 25.
# riscv64: when the mirror's trixie riscv64 index does not match its signed Release file (seen for
# days on the project's mirror: "File has unexpected size ... Mirror sync in progress?"), the next
# Debian release (forky, also with Java 25) is used instead: verified beats unverified.
kernel_suite() {
  case $1 in
    x86_64) echo "${NIMBUS_L1_X86_SUITE:-bookworm}" ;;
    aarch64) echo "${NIMBUS_L1_AARCH64_SUITE:-trixie}" ;;
    riscv64)
      local s
      for s in ${NIMBUS_L1_RISCV64_SUITES:-trixie forky}; do
        apt_index_try "$s" riscv64
        case $? in
          0) echo "$s"; return 0 ;;
          3) note "the Debian $s index for riscv64 cannot be verified on this mirror; trying the next release" ;;
        esac
      done
      die "no Debian release in '${NIMBUS_L1_RISCV64_SUITES:-trixie forky}' has a verifiable riscv64 index on $(debian_mirror) (see $L1_CACHE/apt/*-riscv64/update.log)" ;;
  esac
}
QEMU_SUITE=trixie   # QEMU 10: bookworm's 7.2 hangs now and then on x86 and lacks riscv AIA
# x86_64 takes forky's QEMU (11.1 on 2026-12-03): QEMU before 10.2 could lose an L1 interrupt while nested
# SVM runs (helper_vmrun sets CPU_INTERRUPT_VIRQ in interrupt_request with a plain |= on the vCPU thread
# while the main loop's LAPIC timer does the same; one update overwrites the other, and a halted L1 never
# wakes). Fixed upstream by 27e76d010104 "cpu-common: use atomic access for interrupt_request" (10.2.0),
# not in trixie's 10.0.x. That is the L1 freeze docs/testing.md describes. NIMBUS_L1_QEMU_SUITE overrides.
QEMU_SUITE_X86_64=${NIMBUS_L1_QEMU_SUITE:-forky}

# apt_download SUITE DEBARCH PKG...   fetches exactly these packages (no dependencies), prints the paths
apt_download() {
  local suite=$1 arch=$2 d list p ver parch out attempt
  shift 2
  d=$L1_CACHE/apt/$suite-$arch
  apt_index "$suite" "$arch"
  for attempt in 1 2; do
    list=
    for p in "$@"; do
      ver=$(apt_run "$suite" "$arch" apt-cache show --no-all-versions "$p" 2>/dev/null | sed -n 's/^Version: //p' | head -n 1)
      parch=$(apt_run "$suite" "$arch" apt-cache show --no-all-versions "$p" 2>/dev/null | sed -n 's/^Architecture: //p' | head -n 1)
      if [ -z "$ver" ]; then
        [ "$attempt" = 1 ] && continue 2
        die "Debian $suite ($arch) has no package $p"
      fi
      list="$list$p $ver $parch"$'\n'
    done
    out=$(deb_paths "$d/cache/archives" "$list") && { echo "$out"; return 0; }
    note "downloading from Debian $suite ($arch): $*"
    if (cd "$d/cache/archives" && apt_run "$suite" "$arch" apt-get -q download "$@") >"$d/download.log" 2>&1; then
      out=$(deb_paths "$d/cache/archives" "$list") && { echo "$out"; return 0; }
    fi
    [ "$attempt" = 1 ] && apt_index "$suite" "$arch" refresh
  done
  cat "$d/download.log" >&2 2>/dev/null
  die "cannot download from Debian $suite ($arch): $* (apt output above)"
}

# kernel_package ARCH -> the versioned kernel package the Debian metapackage points at
kernel_package() {
  local suite debarch meta
  suite=$(kernel_suite "$1") || exit 2; debarch=$(deb_arch "$1"); meta=linux-image-$debarch
  apt_index "$suite" "$debarch"
  apt_run "$suite" "$debarch" apt-cache depends "$meta" 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1
}

# kernel_file KROOT KVER -> the kernel image as packaged (boot/vmlinu[xz]-KVER, or
# usr/lib/modules/KVER/vmlinu[xz] in releases after trixie)
kernel_file() {
  # the package's own file: vmlinuz (bzImage on x86) before vmlinux, which prepare_kernel may have
  # extracted next to it
  local f
  for f in "$1"/boot/vmlinuz-"$2" "$1"/usr/lib/modules/"$2"/vmlinuz "$1"/boot/vmlinux-"$2" "$1"/usr/lib/modules/"$2"/vmlinux; do
    [ -f "$f" ] && { echo "$f"; return 0; }
  done
}

# prepare_kernel ARCH -> KROOT (unpacked package), KVER, KIMAGE (what L1 boots),
#                        KIMAGE_DIRECT (uncompressed image: x86 ELF vmlinux for PVH, arm64/riscv64 Image),
#                        KBZIMAGE (x86 only: the bzImage)
prepare_kernel() {
  local arch=$1 suite debarch pkg deb
  suite=$(kernel_suite "$arch") || exit 2; debarch=$(deb_arch "$arch")
  apt_index "$suite" "$debarch"
  pkg=${NIMBUS_L1_KERNEL_PKG:-$(apt_memo "$suite" "$debarch" kernel_package "$arch")}
  [ -n "$pkg" ] || die "cannot find the kernel package of linux-image-$debarch in Debian $suite"
  KVER=${pkg#linux-image-}
  KROOT=$L1_CACHE/$arch/kernel-$KVER
  if [ ! -e "$KROOT/.complete" ]; then
    # newer Debian releases split the image into linux-binary-*, linux-modules-*, linux-base-*
    local parts
    parts=$(apt_run "$suite" "$debarch" apt-cache depends "$pkg" 2>/dev/null |
      sed -n "s/^ *Depends: \(linux-\(binary\|modules\|base\)-$KVER\)\$/\1/p" | sort -u)
    # shellcheck disable=SC2086
    deb=$(apt_download "$suite" "$debarch" "$pkg" $parts) || exit 2
    note "unpacking $pkg $parts"
    # shellcheck disable=SC2086
    cached_tree "$KROOT" build_kernel_tree "$arch" "$KVER" $deb
  fi
  case $arch in
    x86_64)
      KBZIMAGE=$(kernel_file "$KROOT" "$KVER")
      KIMAGE_DIRECT=$KROOT/boot/vmlinux-$KVER
      KIMAGE=$KIMAGE_DIRECT ;;   # PVH entry: no decompression under TCG (saves 4-5 s a boot)
    aarch64|riscv64)
      KIMAGE=$(kernel_file "$KROOT" "$KVER")
      KIMAGE_DIRECT=$KROOT/boot/Image-$KVER ;;
  esac
}

build_kernel_tree() {
  local arch=$1 kver=$2 out=${*: -1} img off
  unpack_debs "$out" "${@:3:$#-3}"
  # trixie packages install under /usr only; depmod and modprobe -d look in <root>/lib/modules
  [ -e "$out/lib" ] || ln -s usr/lib "$out/lib"
  depmod -b "$out" "$kver" || return 1
  img=$(kernel_file "$out" "$kver")
  [ -f "$img" ] || { echo "$PROG: no kernel image in the $kver packages" >&2; return 1; }
  mkdir -p "$out/boot"
  case $arch in
    x86_64)
      off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$img" | head -n 1 | cut -d: -f1)
      [ -n "$off" ] || { echo "$PROG: $img holds no XZ stream" >&2; return 1; }
      tail -c +$((off + 1)) "$img" | xz -dc --single-stream > "$out/boot/vmlinux-$kver" 2>/dev/null
      [ "$(head -c 4 "$out/boot/vmlinux-$kver" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] ||
        { echo "$PROG: no ELF vmlinux in $img" >&2; return 1; } ;;
    *)
      # arm64 packages a gzip-compressed Image, riscv64 a plain one
      if [ "$(head -c 2 "$img" | od -An -tx1 | tr -d ' ')" = 1f8b ]; then gzip -dc "$img" > "$out/boot/Image-$kver"
      else cp "$img" "$out/boot/Image-$kver"; fi ;;
  esac
}

# prepare_busybox ARCH -> BUSYBOX (static binary for ARCH)
prepare_busybox() {
  local arch=$1 suite debarch deb ver dir
  suite=$(kernel_suite "$arch") || exit 2; debarch=$(deb_arch "$arch")
  apt_index "$suite" "$debarch"
  deb=$(apt_memo "$suite" "$debarch" apt_download "$suite" "$debarch" busybox-static) || exit 2
  [ -f "$deb" ] || deb=$(apt_download "$suite" "$debarch" busybox-static) || exit 2
  ver=$(basename "$deb" .deb)
  dir=$L1_CACHE/$arch/$ver
  [ -e "$dir/.complete" ] || cached_tree "$dir" unpack_debs_into "$deb"
  BUSYBOX=$(ls "$dir"/usr/bin/busybox "$dir"/bin/busybox 2>/dev/null | head -n 1)
  [ -x "$BUSYBOX" ] || die "no busybox in $deb"
}
unpack_debs_into() { local deb=$1 out=$2; unpack_debs "$out" "$deb"; }

# modules_in_order KROOT KVER MODULE...   the .ko files (with dependencies first) the modules need;
# built-in modules are left out
modules_in_order() {
  local kroot=$1 kver=$2 m
  shift 2
  for m in "$@"; do
    modprobe -d "$kroot" -S "$kver" --show-depends "$m" 2>/dev/null || {
      # a module that is neither built in nor present is a real problem for the rig
      grep -q -E "/$m\.ko|/${m//_/-}\.ko" "$kroot/lib/modules/$kver/modules.builtin" 2>/dev/null ||
        echo "missing $m"
    }
  done | awk '$1 == "insmod" && !seen[$2]++ { print $2 } $1 == "missing" { print "MISSING:" $2 }'
}

# prepare_initramfs ARCH -> INITRD. Needs prepare_kernel and prepare_busybox first.
# Contents: busybox, the modules for virtio, 9p, overlayfs, tun (the end-to-end tests' taps) and KVM
# (uncompressed), and l1/guest/init.
prepare_initramfs() {
  local arch=$1 mods key
  mods="virtio_pci virtio_console 9pnet_virtio 9p overlay tun"
  case $arch in
    x86_64) mods="$mods kvm_amd" ;;
    riscv64) mods="$mods kvm" ;;
  esac
  key=$( { echo "$KVER $mods"; sha256sum "$BUSYBOX" "$L1_HOME/guest/init" "$L1_HOME/lib/prepare.sh"; } | short_hash)
  INITRD=$L1_CACHE/$arch/initramfs-$key.cpio.gz
  [ -f "$INITRD" ] && return 0
  local stage ko list
  stage=$(mktemp -d)
  mkdir -p "$stage"/{bin,dev,proc,sys,tmp,mnt,run,lib/modules}
  cp "$BUSYBOX" "$stage/bin/busybox"
  cp "$L1_HOME/guest/init" "$stage/init"
  chmod 755 "$stage/init"
  list=$(modules_in_order "$KROOT" "$KVER" $mods)
  if grep -q '^MISSING:' <<< "$list"; then
    rm -rf "$stage"; die "kernel $KVER lacks modules the rig needs: $(grep '^MISSING:' <<< "$list" | cut -d: -f2 | tr '\n' ' ')"
  fi
  : > "$stage/lib/modules/load-order"
  for ko in $list; do
    local name
    name=$(basename "$ko"); name=${name%.xz}; name=${name%.zst}
    case $ko in
      *.xz) xz -dc "$ko" > "$stage/lib/modules/$name" ;;
      *.zst) zstd -q -dc "$ko" > "$stage/lib/modules/$name" ;;
      *) cp "$ko" "$stage/lib/modules/$name" ;;
    esac
    echo "$name" >> "$stage/lib/modules/load-order"
  done
  (cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) > "$INITRD.tmp.$$" &&
    mv "$INITRD.tmp.$$" "$INITRD"
  rm -rf "$stage"
  [ -f "$INITRD" ] || die "cannot build $INITRD"
}

# prepare_qemu ARCH -> QEMU (array: the command that starts qemu-system-ARCH: 10 from trixie, 11 from forky for x86_64)
prepare_qemu() {
  local arch=$1 pkg dir debs
  case $arch in
    x86_64) pkg=qemu-system-x86 ;;
    aarch64) pkg=qemu-system-arm ;;
    riscv64) pkg=qemu-system-misc ;;
  esac
  if [ -n "${NIMBUS_L1_QEMU:-}" ]; then QEMU=("$NIMBUS_L1_QEMU"); return 0; fi
  local suite=$QEMU_SUITE
  [ "$arch" = x86_64 ] && suite=$QEMU_SUITE_X86_64
  apt_index "$suite" amd64
  dir=$L1_CACHE/qemu/$pkg-$(apt_memo "$suite" amd64 apt_resolve "$suite" amd64 "$pkg" | short_hash)
  if [ ! -e "$dir/.complete" ]; then
    debs=$(apt_fetch "$suite" amd64 "$pkg") || exit 2
    note "unpacking QEMU ($pkg, $(wc -l <<< "$debs") packages)"
    # shellcheck disable=SC2086
    cached_tree "$dir" build_qemu_tree $debs
  fi
  local r=$dir/root
  QEMU=(env QEMU_MODULE_DIR="$r/usr/lib/x86_64-linux-gnu/qemu"
        "$r/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path "$r/usr/lib/x86_64-linux-gnu"
        "$r/usr/bin/qemu-system-$arch" -L "$r/usr/share/qemu")
}

build_qemu_tree() {
  local out=${*: -1} f t
  unpack_debs "$out/root" "${@:1:$#-1}"
  # firmware links such as /usr/share/qemu/opensbi-*.bin are absolute: point them into this tree
  find "$out/root" -type l | while read -r f; do
    t=$(readlink "$f")
    case $t in /*) ln -sfn "$out/root$t" "$f" ;; esac
  done
  # the tree is renamed after the build: make the links relative to survive that
  find "$out/root" -type l | while read -r f; do
    t=$(readlink "$f")
    case $t in "$out"/*) ln -sfn "$(realpath -m --relative-to="$(dirname "$f")" "$t")" "$f" ;; esac
  done
  [ -x "$out/root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" ]
}

# prepare_sysroot ARCH -> SYSROOT, GUEST_JAVA_HOME (aarch64/riscv64): a root filesystem of ARCH with
# Debian trixie's Java 25 runtime and a shell, unpacked with dpkg -x (no maintainer scripts needed).
SYSROOT_PACKAGES="openjdk-25-jre-headless dash bash coreutils e2fsprogs"  # e2fsprogs: debugfs reads the virtio tests' disks
SYSROOT_LAYOUT=2   # bump when build_sysroot changes: a new tree is built next to the old one
prepare_sysroot() {
  local arch=$1 debarch dir debs suite
  debarch=$(deb_arch "$arch"); suite=$(kernel_suite "$arch") || exit 2
  apt_index "$suite" "$debarch"
  # shellcheck disable=SC2086
  dir=$L1_CACHE/$arch/sysroot-$( { apt_memo "$suite" "$debarch" apt_resolve "$suite" "$debarch" $SYSROOT_PACKAGES
                                    echo "layout $SYSROOT_LAYOUT"; } | short_hash)
  if [ ! -e "$dir/.complete" ]; then
    # shellcheck disable=SC2086
    debs=$(apt_fetch "$suite" "$debarch" $SYSROOT_PACKAGES) || exit 2
    note "unpacking a $arch root filesystem with Java 25 ($(wc -l <<< "$debs") packages)"
    # shellcheck disable=SC2086
    cached_tree "$dir" build_sysroot $debs
  fi
  SYSROOT=$dir
  GUEST_JAVA_HOME=/usr/lib/jvm/java-25-openjdk-$debarch
  [ -x "$SYSROOT$GUEST_JAVA_HOME/bin/java" ] || die "no java in $SYSROOT$GUEST_JAVA_HOME"
}

build_sysroot() {
  local out=${*: -1} d
  unpack_debs "$out" "${@:1:$#-1}"
  # merged /usr (what base-files and usrmerge would have done)
  for d in bin sbin lib; do
    if [ -d "$out/$d" ] && [ ! -L "$out/$d" ]; then
      mkdir -p "$out/usr/$d"
      cp -a "$out/$d/." "$out/usr/$d/" && rm -rf "${out:?}/$d"
    fi
    [ -e "$out/$d" ] || ln -s "usr/$d" "$out/$d"
  done
  [ -e "$out/bin/sh" ] || ln -s dash "$out/usr/bin/sh"
  # absolute links (JAVA_HOME/conf -> /etc/java-25-openjdk, ...) made relative, so that they also
  # resolve when the tree is used from outside, as QEMU user mode's -L prefix does (cross-java)
  local f t
  find "$out" -type l | while read -r f; do
    t=$(readlink "$f")
    case $t in
      /*) ln -sfn "$(realpath -m -s --relative-to="$(dirname "/${f#"$out"/}")" "$t")" "$f" ;;
    esac
  done
  mkdir -p "$out"/{proc,sys,dev,tmp,run,root,etc,var/tmp,mnt}
  chmod 1777 "$out/tmp" "$out/var/tmp"
  [ -f "$out/etc/passwd" ] || printf 'root:x:0:0:root:/root:/bin/sh\n' > "$out/etc/passwd"
  [ -f "$out/etc/group" ] || printf 'root:x:0:\n' > "$out/etc/group"
}
