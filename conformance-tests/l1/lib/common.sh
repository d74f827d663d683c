# Sourced by the L1 rig scripts (bash). Cache layout, private Debian apt indexes, package fetching.
#
# Everything the rig needs comes from Debian packages, fetched with apt-get against private indexes kept
# in the cache (the machine's own apt configuration is not changed), so apt checks the Release signature
# and every package hash. Nothing is downloaded twice: a second run works from the cache alone.
#
# Cache: ${NIMBUS_CACHE:-$HOME/.cache/nimbus}/l1/
#   apt/<suite>-<debarch>/      sources.list, lists/, cache/archives/*.deb (apt's own layout)
#   qemu/<set>/root/            QEMU (Debian trixie, amd64) unpacked with dpkg -x, run with its own ld.so
#   <arch>/kernel-<ver>/        the Debian kernel package unpacked (+ modules.dep from depmod)
#   <arch>/busybox-<ver>/       busybox-static for that arch
#   <arch>/initramfs-<hash>.cpio.gz   the L1 initramfs (busybox, modules, init)
#   <arch>/sysroot-<hash>/      aarch64/riscv64: root filesystem with openjdk-25-jre-headless
# shellcheck shell=bash

L1_HOME=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NIMBUS_ROOT=$(cd "$L1_HOME/../.." && pwd)
NIMBUS_CACHE=${NIMBUS_CACHE:-$HOME/.cache/nimbus}
L1_CACHE=$NIMBUS_CACHE/l1
PROG=${PROG:-$(basename "$0")}

die() { echo "$PROG: $*" >&2; exit 2; }
note() { [ -n "${NIMBUS_L1_QUIET:-}" ] || echo "$PROG: $*" >&2; }

# x86_64|aarch64|riscv64 -> Debian architecture name
deb_arch() {
  case $1 in
    x86_64) echo amd64 ;;
    aarch64) echo arm64 ;;
    riscv64) echo riscv64 ;;
    *) return 1 ;;
  esac
}

# Host packages the rig itself uses (installed once by ensure-packages).
l1_host_packages() {
  "$L1_HOME/ensure-packages" apt ca-certificates debian-archive-keyring kmod xz-utils cpio gzip e2fsprogs util-linux ||
    die "cannot install the host packages the L1 rig needs (see above)"
}

# The Debian mirror this machine already uses (deb822 or one-line sources), or NIMBUS_DEBIAN_MIRROR.
debian_mirror() {
  if [ -n "${NIMBUS_DEBIAN_MIRROR:-}" ]; then echo "$NIMBUS_DEBIAN_MIRROR"; return; fi
  local m
  m=$( { sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null
         awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' \
           /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null; } |
       tr ' ' '\n' | grep -E '^[a-z]+://' | grep -v -E 'security|nodesource|google|docker' | grep -E '/debian/?$' | head -n 1)
  echo "${m:-http://deb.debian.org/debian}"
}
debian_security_mirror() {
  if [ -n "${NIMBUS_DEBIAN_SECURITY_MIRROR:-}" ]; then echo "$NIMBUS_DEBIAN_SECURITY_MIRROR"; return; fi
  local m
  m=$( { sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null
         awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' \
           /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null; } |
       tr ' ' '\n' | grep -E '^[a-z]+://.*debian-security/?$' | head -n 1)
  echo "${m:-http://deb.debian.org/debian-security}"
}

# apt_run SUITE DEBARCH apt-get|apt-cache ARGS...   apt against the private index of SUITE for DEBARCH
apt_run() {
  local suite=$1 arch=$2 tool=$3 d
  shift 3
  d=$L1_CACHE/apt/$suite-$arch
  "$tool" -o Dir::Etc::sourcelist="$d/sources.list" -o Dir::Etc::sourceparts=- \
    -o Dir::State::Lists="$d/lists" -o Dir::Cache="$d/cache" -o Dir::State::status="$d/status" \
    -o APT::Architecture="$arch" -o APT::Architectures="$arch" -o Debug::NoLocking=1 \
    -o Dir::Cache::pkgcache=pkgcache.bin -o Dir::Cache::srcpkgcache=srcpkgcache.bin \
    -o Acquire::Retries=3 -o APT::Get::Assume-Yes=true -o APT::Install-Recommends=false "$@"
}

# apt_memo SUITE DEBARCH CMD...   CMD's output, remembered until the index is fetched again (a warm
# run then asks apt nothing at all)
apt_memo() {
  local suite=$1 arch=$2 f out
  shift 2
  f=$L1_CACHE/apt/$suite-$arch/memo/$(printf '%s\n' "$@" | short_hash)
  if [ -f "$f" ]; then cat "$f"; return 0; fi
  out=$("$@") || return 1
  [ -n "$out" ] || return 0
  mkdir -p "${f%/*}"
  printf '%s\n' "$out" > "$f.$$" && mv "$f.$$" "$f"
  printf '%s\n' "$out"
}

# apt_index SUITE DEBARCH [refresh]   makes sure the private index exists (downloads it on first use)
apt_index() {
  apt_index_try "$@" && return 0
  cat "$L1_CACHE/apt/$1-$2/update.log" >&2
  die "cannot get a verified Debian $1 index for $2 from $(debian_mirror) (apt-get update output above; a mirror in the middle of a sync fixes itself, retry later)"
}

# apt_index_try SUITE DEBARCH [refresh]   like apt_index, but returns 1 when the index cannot be had
# (3: just now; 1: within the last hour, not tried again) instead of stopping
apt_index_try() {
  local suite=$1 arch=$2 refresh=${3:-} d m s keyring
  d=$L1_CACHE/apt/$suite-$arch
  if [ -z "$refresh" ] && [ -z "${NIMBUS_L1_REFRESH:-}" ] && ls "$d"/lists/*_Packages* >/dev/null 2>&1; then return 0; fi
  if [ -z "$refresh" ] && [ -n "$(find "$d/failed" -mmin -60 2>/dev/null)" ]; then return 1; fi
  l1_host_packages
  mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
  : > "$d/status"
  rm -rf "$d/memo" "$d/failed"
  m=$(debian_mirror); s=$(debian_security_mirror)
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  [ -f "$keyring" ] || die "no Debian archive keyring at $keyring (package debian-archive-keyring)"
  {
    echo "deb [signed-by=$keyring] $m $suite main"
    echo "deb [signed-by=$keyring] $m $suite-updates main"
    echo "deb [signed-by=$keyring] $s $suite-security main"
  } > "$d/sources.list"
  note "fetching the Debian $suite package index for $arch (once; verified by apt)"
  local log=$d/update.log
  if ! apt_run "$suite" "$arch" apt-get -q update > "$log" 2>&1 || grep -q -E '^(E|W): (Failed|Some index)' "$log"; then
    # never use a half-verified index: drop what this update left
    rm -f "$d"/lists/*_Packages* 2>/dev/null
    touch "$d/failed"
    return 3
  fi
}

# apt_resolve SUITE DEBARCH PKG...   prints "name version arch" for the dependency closure of PKG...
# (as if nothing were installed: the status file of the private index is empty)
apt_resolve() {
  local suite=$1 arch=$2
  shift 2
  apt_run "$suite" "$arch" apt-get -s install "$@" 2>&1 |
    sed -n 's/^Inst \([^ ]*\) (\([^ ]*\) [^[]*\[\([^]]*\)\]).*/\1 \2 \3/p' | sort -u
}

# apt_fetch SUITE DEBARCH PKG...   downloads the closure of PKG... (verified by apt) into the private
# archive and prints the paths of its .deb files, one a line. A missing package is a clear error.
apt_fetch() {
  local suite=$1 arch=$2 d list out attempt
  shift 2
  d=$L1_CACHE/apt/$suite-$arch
  apt_index "$suite" "$arch"
  for attempt in 1 2; do
    list=$(apt_resolve "$suite" "$arch" "$@")
    if [ -z "$list" ]; then
      apt_run "$suite" "$arch" apt-get -s install "$@" >&2 || true
      [ "$attempt" = 1 ] && { apt_index "$suite" "$arch" refresh; continue; }
      die "Debian $suite ($arch) has no installable package set for: $* (apt output above)"
    fi
    out=$(deb_paths "$d/cache/archives" "$list") && { echo "$out"; return 0; }
    note "downloading from Debian $suite ($arch): $*"
    if apt_run "$suite" "$arch" apt-get -q install --download-only "$@" >"$d/download.log" 2>&1; then
      out=$(deb_paths "$d/cache/archives" "$list") && { echo "$out"; return 0; }
    fi
    # an index older than the mirror names files that are gone: refresh once and retry
    [ "$attempt" = 1 ] && apt_index "$suite" "$arch" refresh
  done
  cat "$d/download.log" >&2
  die "cannot download from Debian $suite ($arch): $* (apt output above)"
}

# deb_paths DIR "name version arch" lines -> the .deb paths, fails when one is missing
deb_paths() {
  local dir=$1 name ver arch f
  while read -r name ver arch; do
    [ -n "$name" ] || continue
    f=$dir/${name}_${ver//:/%3a}_$arch.deb
    [ -f "$f" ] || return 1
    echo "$f"
  done <<< "$2"
}

# unpack_debs DEST DEB...   dpkg -x each package into DEST (no maintainer scripts run)
unpack_debs() {
  local dest=$1 f
  shift
  mkdir -p "$dest"
  for f in "$@"; do dpkg -x "$f" "$dest" || die "cannot unpack $f"; done
}

# cached_tree DIR BUILDER ARGS...   builds DIR once with BUILDER (into a temporary sibling, then renamed)
cached_tree() {
  local dir=$1
  shift
  [ -e "$dir/.complete" ] && return 0
  local tmp=$dir.tmp.$$
  rm -rf "$tmp"
  mkdir -p "$tmp"
  "$@" "$tmp" || { rm -rf "$tmp"; die "building $dir failed"; }
  touch "$tmp/.complete"
  rm -rf "$dir"
  mv "$tmp" "$dir"
}

short_hash() { sha256sum | cut -c1-12; }
