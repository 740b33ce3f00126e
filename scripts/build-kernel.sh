#!/usr/bin/env bash
# Builds an arm64 guest kernel with SVA (ARM_SMMU_V3_SVA, IOMMU_IOPF, ...),
# cross-compiled with Debian's aarch64-linux-gnu-gcc from allnoconfig plus
# the fragment guest/kernel/sva.config (docs/sva.md). Prints the kernel
# directory:
#   DIR/Image           the kernel image QEMU boots (-kernel)
#   DIR/config          its configuration
#   DIR/kernel-release  its `uname -r`
#   DIR/build           the build tree, for out-of-tree modules (M=)
#
#   (default)    Debian bookworm's linux-source-6.12 (the newest in the
#                archive the machine uses, or VSMMU_KERNEL_SOURCE_VERSION),
#                cached under $VSMMU_CACHE/sva-kernel/ by source version,
#                fragment and this script: a second run is a cache hit.
#   --tree DIR   a kernel tree you bring (the kernel under test): built out
#                of tree into the cache, from DIR/.config if it has one
#                (else allnoconfig), with the fragment merged in. Always
#                runs make, which is incremental.
#   --jobs N     make -jN (default: cores + 1)
#   --check-config FILE  only check that the kernel configuration FILE holds
#                every option of the fragment (what the build checks after
#                olddefconfig); names those it lacks
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

tree="" jobs=$(( $(nproc) + 1 )) check_only=""
while [ $# -gt 0 ]; do
    case "$1" in
        --tree) tree=${2:?--tree needs a kernel source directory}; shift 2 ;;
        --jobs) jobs=${2:?--jobs needs a number}; shift 2 ;;
        --check-config) check_only=${2:?--check-config needs a file}; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0" >&2; exit 0 ;;
        *) die "unknown option: $1 (see --help)" ;;
    esac
done
fragment="$VSMMU_ROOT/guest/kernel/sva.config"
[ -r "$fragment" ] || die "missing config fragment $fragment"

# check_fragment CONFIG: every CONFIG_X=y of the fragment is in CONFIG, or
# the build stops here and names them (an option Kconfig dropped silently).
check_fragment() {
    local config=$1 missing=()
    while IFS= read -r line; do
        case "$line" in CONFIG_*=*) grep -qxF "$line" "$config" || missing+=("$line") ;; esac
    done < "$fragment"
    [ ${#missing[@]} -eq 0 ] || die "the kernel configuration dropped: ${missing[*]} (dependencies not met in this tree?)"
}

if [ -n "$check_only" ]; then
    [ -r "$check_only" ] || die "cannot read $check_only"
    check_fragment "$check_only"
    exit 0
fi

apt_install make gcc libc6-dev bc flex bison xz-utils gcc-aarch64-linux-gnu
KMAKE=(make -s ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-)

# build SRC OUT: configure (OUT/.config must already hold the base) and build.
build() {
    local src=$1 out=$2
    log "building $(cd "$src" && "${KMAKE[@]}" kernelversion 2>/dev/null || echo kernel) in $out (make -j$jobs)"
    "${KMAKE[@]}" -C "$src" O="$out/build" olddefconfig >&2
    check_fragment "$out/build/.config"
    # `modules` writes Module.symvers, which out-of-tree modules link against.
    "${KMAKE[@]}" -C "$src" O="$out/build" -j"$jobs" Image modules >&2 \
        || die "kernel build failed (log above)"
    cp "$out/build/arch/arm64/boot/Image" "$out/Image.tmp" && mv "$out/Image.tmp" "$out/Image"
    cp "$out/build/.config" "$out/config"
    "${KMAKE[@]}" -C "$src" O="$out/build" kernelrelease > "$out/kernel-release"
}

if [ -n "$tree" ]; then
    tree=$(cd "$tree" 2>/dev/null && pwd) || die "no such kernel tree: $tree"
    [ -f "$tree/Makefile" ] && [ -d "$tree/arch/arm64" ] || die "$tree is not a kernel source tree"
    # Out of tree: the user's tree must be clean (make mrproper) for O=.
    [ ! -f "$tree/include/config/auto.conf" ] \
        || die "$tree has been built in place; run 'make mrproper' there (its .config is kept if you copy it first)"
    out="$VSMMU_CACHE/sva-kernel/tree-$(printf '%s' "$tree" | sha256sum | cut -c1-12)"
    mkdir -p "$out/build"
    if [ -f "$tree/.config" ]; then
        cp "$tree/.config" "$out/build/.config.base"
    else
        "${KMAKE[@]}" -C "$tree" O="$out/build" allnoconfig >&2
        cp "$out/build/.config" "$out/build/.config.base"
    fi
    (cd "$out/build" && KCONFIG_CONFIG=.config \
        bash "$tree/scripts/kconfig/merge_config.sh" -m -O . .config.base "$fragment" >&2)
    build "$tree" "$out"
    echo "$out"
    exit 0
fi

# Debian's linux-source package (architecture all: the system's apt has it).
pkg=linux-source-6.12
version=${VSMMU_KERNEL_SOURCE_VERSION:-}
if [ -z "$version" ]; then
    version=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ { print $2; exit }')
    if [ -z "$version" ] || [ "$version" = "(none)" ]; then
        as_root apt-get update -qq >&2 || true
        version=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ { print $2; exit }')
    fi
fi
[ -n "$version" ] && [ "$version" != "(none)" ] \
    || die "$pkg is not in the system's apt sources (Debian bookworm-security has it)"
key=$(
    {
        echo "$pkg $version"
        cat "$fragment" "$0"
        aarch64-linux-gnu-gcc --version | head -n1
    } | sha256sum | cut -c1-16
)
out="$VSMMU_CACHE/sva-kernel/${version//[:~]/_}-$key"
done_mark() { [ -s "$out/Image" ] && [ -s "$out/kernel-release" ] && [ -e "$out/complete" ]; }
if done_mark; then echo "$out"; exit 0; fi
mkdir -p "$VSMMU_CACHE/sva-kernel"
exec 9> "$VSMMU_CACHE/sva-kernel/.lock"
flock 9
if done_mark; then echo "$out"; exit 0; fi

debs="$VSMMU_CACHE/sva-kernel/debs"
mkdir -p "$debs"
deb="$debs/${pkg}_${version//:/%3a}_all.deb"
if [ ! -s "$deb" ]; then
    log "downloading $pkg $version"
    (cd "$debs" && apt-get download -qq "$pkg=$version" 2>&1 | grep -v 'unsandboxed' >&2 || true)
    [ -s "$deb" ] || die "cannot download $pkg=$version from the system's apt sources"
fi
rm -rf "$out"
mkdir -p "$out/build"
log "unpacking $pkg $version"
dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/src/linux-source-6.12.tar.xz | tar -xJ -C "$out" \
    || die "cannot unpack $deb"
mv "$out/linux-source-6.12" "$out/src"
"${KMAKE[@]}" -C "$out/src" O="$out/build" allnoconfig KCONFIG_ALLCONFIG="$fragment" >&2
build "$out/src" "$out"
echo "$pkg $version" > "$out/source"
: > "$out/complete"
log "kernel $(cat "$out/kernel-release"): $out/Image"
echo "$out"
