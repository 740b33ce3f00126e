#!/usr/bin/env bash
# Builds the guest initramfs: Debian bookworm's busybox-static (arm64), the
# project's guest/init, guest/tests/*.sh and guest/lib/*.sh, the guest test
# programs (cross-compiled statically for arm64 with Debian's
# gcc-aarch64-linux-gnu, into /bin: guest/programs/NAME.c, or every .c file of
# a directory guest/programs/NAME/ together, as /bin/NAME), and the kernel
# modules listed in the kernel directory's modules.load. Packed as a gzip'd
# newc cpio and cached under $VSMMU_CACHE/initramfs/, keyed by the hash of its inputs (kernel
# package, modules, busybox version, guest/ contents, this script). Prints the
# path of the image.
#   --kernel-dir DIR  modules from DIR/modules/*.ko in DIR/modules.load order
#                     (default: the directory scripts/fetch-kernel.sh prints)
#   --no-modules      no kernel modules (a kernel with everything built in)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/lib-arm64-apt.sh
source "$(dirname "$0")/lib-arm64-apt.sh"

kdir="" with_modules=1
while [ $# -gt 0 ]; do
    case "$1" in
        --kernel-dir) kdir=${2:?--kernel-dir needs a directory}; shift 2 ;;
        --no-modules) with_modules=0; shift ;;
        *) die "unknown option: $1" ;;
    esac
done
if [ "$with_modules" = 1 ] && [ -z "$kdir" ]; then
    kdir=$(bash "$VSMMU_ROOT/scripts/fetch-kernel.sh")
fi
if [ "$with_modules" = 1 ]; then
    [ -f "$kdir/modules.load" ] || die "$kdir has no modules.load"
fi

apt_install cpio gcc-aarch64-linux-gnu libc6-dev-arm64-cross
CROSS_CC=aarch64-linux-gnu-gcc
CROSS_CFLAGS=(-std=c11 -Wall -Wextra -Werror -static -O2 -I"$VSMMU_ROOT/guest/include")

arm64_apt_refresh
bb_version=$(arm64_candidate busybox-static)
[ -n "$bb_version" ] || die "busybox-static not found in bookworm"

# The key covers every input; file names and contents of guest/ both count.
key=$(
    {
        echo "busybox-static $bb_version"
        if [ "$with_modules" = 1 ]; then
            cat "$kdir/modules.load"
            (cd "$kdir/modules" && sha256sum -- *.ko)
        fi
        (cd "$VSMMU_ROOT" && find guest -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
        cat "$0"
        echo "$CROSS_CC ${CROSS_CFLAGS[*]}"
        "$CROSS_CC" --version | head -n1
    } | sha256sum | cut -c1-16
)
out="$VSMMU_CACHE/initramfs/initramfs-$key.cpio.gz"
if [ -s "$out" ]; then echo "$out"; exit 0; fi

deb=$(arm64_download busybox-static "$bb_version")
tmp=$(mktemp -d "$VSMMU_CACHE/initramfs-build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -x "$deb" "$tmp/bb"
stage="$tmp/root"
mkdir -p "$stage/bin" "$stage/lib/modules" "$stage/lib/vsmmu" "$stage/tests" "$stage/proc" "$stage/sys" "$stage/dev" "$stage/tmp"
install -m 0755 "$tmp/bb/bin/busybox" "$stage/bin/busybox"
install -m 0755 "$VSMMU_ROOT/guest/init" "$stage/init"
for t in "$VSMMU_ROOT"/guest/tests/*.sh; do install -m 0755 "$t" "$stage/tests/"; done
for l in "$VSMMU_ROOT"/guest/lib/*.sh; do install -m 0644 "$l" "$stage/lib/vsmmu/"; done
# A program is one file guest/programs/NAME.c or a directory
# guest/programs/NAME/ whose .c files are compiled together (its headers are
# found next to them by #include "...").
for src in "$VSMMU_ROOT"/guest/programs/*; do
    if [ -d "$src" ]; then
        prog=$(basename "$src")
        srcs=("$src"/*.c)
        [ -e "${srcs[0]}" ] || die "$src has no .c files"
    elif [[ "$src" == *.c ]]; then
        prog=$(basename "$src" .c)
        srcs=("$src")
    else
        continue
    fi
    "$CROSS_CC" "${CROSS_CFLAGS[@]}" -o "$stage/bin/$prog" "${srcs[@]}" \
        || die "cross-compiling $src failed"
done
if [ "$with_modules" = 1 ]; then
    while IFS= read -r ko; do
        install -m 0644 "$kdir/modules/$ko" "$stage/lib/modules/$ko"
    done < "$kdir/modules.load"
    cp "$kdir/modules.load" "$stage/lib/modules/modules.load"
fi

# newc_node NAME MODE INO [MAJOR MINOR]: one header-only newc entry (directory
# or device node). Written by hand so that making /dev/console needs no root.
newc_node() {
    local name=$1 mode=$2 ino=$3 major=${4:-0} minor=${5:-0} namesize
    namesize=$(( ${#name} + 1 ))
    printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
        "$ino" "$mode" 0 0 1 0 0 0 0 "$major" "$minor" "$namesize" 0
    printf '%s\0' "$name"
    head -c $(( (4 - (110 + namesize) % 4) % 4 )) /dev/zero
}

# The kernel unpacks concatenated archives: first the device nodes, then the tree.
mkdir -p "$VSMMU_CACHE/initramfs"
{
    newc_node dev 0x41ed 1
    newc_node dev/console 0x2180 2 5 1
    newc_node 'TRAILER!!!' 0 0
    (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort \
        | cpio --quiet -o -H newc -R 0:0 --reproducible)
} | gzip -n -9 > "$out.tmp.$$"
mv "$out.tmp.$$" "$out"
if [ "$with_modules" = 1 ]; then mods=$(tr '\n' ' ' < "$kdir/modules.load"); else mods="no modules"; fi
log "initramfs: busybox-static $bb_version; $mods"
echo "$out"
