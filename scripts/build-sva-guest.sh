#!/usr/bin/env bash
# Builds the SVA test driver (guest/module/vsmmu-sva, docs/sva.md) out of
# tree against a kernel from scripts/build-kernel.sh (W=1, after that
# kernel's checkpatch.pl --strict has passed it) and lays the kernel
# and the module out as a kernel directory that scripts/boot-guest and
# scripts/build-initramfs.sh take (--kernel DIR/vmlinuz):
#   DIR/vmlinuz  DIR/kernel-release  DIR/modules/vsmmu_sva.ko  DIR/modules.load
# Cached under $VSMMU_CACHE/sva-guest/, keyed by the kernel image and the
# module's sources. Prints DIR.
#   --kernel-dir DIR   the kernel (default: scripts/build-kernel.sh's)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

kdir=""
while [ $# -gt 0 ]; do
    case "$1" in
        --kernel-dir) kdir=${2:?--kernel-dir needs a directory}; shift 2 ;;
        *) die "unknown option: $1" ;;
    esac
done
[ -n "$kdir" ] || kdir=$(bash "$VSMMU_ROOT/scripts/build-kernel.sh")
for f in Image kernel-release build/Module.symvers; do
    [ -e "$kdir/$f" ] || die "$kdir has no $f: not a scripts/build-kernel.sh directory"
done
apt_install make gcc-aarch64-linux-gnu kmod

key=$(
    {
        sha256sum "$kdir/Image" "$kdir/build/Module.symvers"
        cat "$kdir/kernel-release"
        (cd "$VSMMU_ROOT" && find guest/module guest/include -type f -print0 \
            | LC_ALL=C sort -z | xargs -0 sha256sum)
        cat "$0"
    } | sha256sum | cut -c1-16
)
out="$VSMMU_CACHE/sva-guest/$key"
if [ -s "$out/modules/vsmmu_sva.ko" ] && [ -s "$out/vmlinuz" ]; then echo "$out"; exit 0; fi

mkdir -p "$VSMMU_CACHE/sva-guest"
tmp=$(mktemp -d "$VSMMU_CACHE/sva-guest/build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# A copy: kbuild writes its objects next to the sources.
mkdir -p "$tmp/src/module"
cp -r "$VSMMU_ROOT/guest/module/vsmmu-sva" "$tmp/src/module/"
cp -r "$VSMMU_ROOT/guest/include" "$tmp/src/"
# The driver follows the kernel's style: that kernel's checkpatch says so.
checkpatch="$kdir/build/source/scripts/checkpatch.pl"
if [ -f "$checkpatch" ]; then
    perl "$checkpatch" --no-tree --strict -q -f \
        "$VSMMU_ROOT"/guest/module/vsmmu-sva/*.[ch] \
        "$VSMMU_ROOT/guest/include/vsmmu-sva-uapi.h" >&2 \
        || die "checkpatch.pl reports style problems in the SVA test driver (above)"
else
    log "warning: no checkpatch.pl in $kdir/build/source: style not checked"
fi
log "building vsmmu_sva.ko for $(cat "$kdir/kernel-release")"
make -s -C "$kdir/build" ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- \
    M="$tmp/src/module/vsmmu-sva" W=1 modules >&2 \
    || die "building the SVA test driver failed (log above)"
stage="$tmp/out"
mkdir -p "$stage/modules"
cp "$tmp/src/module/vsmmu-sva/vsmmu_sva.ko" "$stage/modules/"
echo vsmmu_sva.ko > "$stage/modules.load"
cp "$kdir/Image" "$stage/vmlinuz"
cp "$kdir/kernel-release" "$kdir/config" "$stage/"
echo "$kdir" > "$stage/kernel-dir"
rm -rf "$out"
mv "$stage" "$out"
echo "$out"
