#!/usr/bin/env bash
# Fetches the guest kernel: Debian bookworm-backports' linux-image-arm64,
# resolved to its real package (linux-image-6.12.N+deb12-arm64), downloaded
# through a private apt state (scripts/lib-arm64-apt.sh). Extracts vmlinuz and
# the modules the guest needs, with their dependencies from modules.dep, into
#   $VSMMU_CACHE/kernel/<package-version>-<hash of the module list>/
#       vmlinuz  config  kernel-release  modules/*.ko  modules.load
# (modules.load lists the .ko files in load order) and prints that directory.
# The package lists are refreshed at most daily, so a second run is a cache hit.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=scripts/lib-arm64-apt.sh
source "$(dirname "$0")/lib-arm64-apt.sh"

# Modules the guest loads at boot; absent ones are built in (or missing: warned).
GUEST_MODULES=(virtio_blk virtio_rng vfio vfio_iommu_type1 vfio_pci nvme virtio_net)

apt_install xz-utils zstd kmod

arm64_apt_refresh
meta_version=$(arm64_candidate linux-image-arm64 bookworm-backports)
[ -n "$meta_version" ] || die "linux-image-arm64 not found in bookworm-backports"
kernel_package_of() {
    arm64_apt_cache show "linux-image-arm64=$1" \
        | sed -n 's/^Depends:.*\(linux-image-[0-9][^ ,]*-arm64\).*/\1/p' | head -n1
}
pkg=$(arm64_memo "kernel-package-$meta_version" kernel_package_of "$meta_version")
[ -n "$pkg" ] || die "cannot resolve linux-image-arm64 $meta_version to a kernel package"
version=$(arm64_candidate "$pkg" bookworm-backports)
release=${pkg#linux-image-}
# Keyed by the package and the module list too.
out="$VSMMU_CACHE/kernel/$version-$(echo "${GUEST_MODULES[*]}" | sha256sum | cut -c1-8)"
if [ -s "$out/vmlinuz" ] && [ -e "$out/modules.load" ]; then echo "$out"; exit 0; fi
# One extraction at a time (parallel runners); the winner's result is a hit.
mkdir -p "$VSMMU_CACHE/kernel"
exec 9> "$VSMMU_CACHE/kernel/.lock"
flock 9
if [ -s "$out/vmlinuz" ] && [ -e "$out/modules.load" ]; then echo "$out"; exit 0; fi

deb=$(arm64_download "$pkg" "$version")
tmp=$(mktemp -d "$VSMMU_CACHE/kernel-extract.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log "extracting $pkg $version"
dpkg-deb -x "$deb" "$tmp/root"
moddir="$tmp/root/lib/modules/$release"
[ -d "$moddir" ] || moddir="$tmp/root/usr/lib/modules/$release"
[ -d "$moddir" ] || die "$pkg has no modules for $release"
# The package leaves modules.dep to its postinst: compute it here.
depmod -b "$(dirname "$(dirname "$(dirname "$moddir")")")" "$release" \
    || die "depmod failed for $release"
[ -f "$moddir/modules.dep" ] || die "depmod left no modules.dep for $release"
vmlinuz=$(find "$tmp/root/boot" -maxdepth 1 -name "vmlinuz-$release" -print -quit)
[ -n "$vmlinuz" ] || die "$pkg has no /boot/vmlinuz-$release"

# modules.dep: "kernel/a/b.ko.xz: kernel/c.ko.xz kernel/d.ko.xz". Build a map
# from the module name (dashes as underscores) to its path and its deps.
declare -A mod_path mod_deps
while IFS= read -r line; do
    path=${line%%:*}
    name=$(basename "$path"); name=${name%%.ko*}; name=${name//-/_}
    mod_path[$name]=$path
    mod_deps[$name]=${line#*:}
done < "$moddir/modules.dep"

# Depth-first: a module's dependencies come before it in the load order.
declare -A placed
order=()
place() {
    local name=$1 dep depname
    [ -n "${placed[$name]:-}" ] && return 0
    placed[$name]=1
    # shellcheck disable=SC2086 # the dependency list is split on blanks
    for dep in ${mod_deps[$name]:-}; do
        depname=$(basename "$dep"); depname=${depname%%.ko*}; depname=${depname//-/_}
        place "$depname"
    done
    order+=("$name")
}
for m in "${GUEST_MODULES[@]}"; do
    if [ -n "${mod_path[$m]:-}" ]; then
        place "$m"
    elif grep -qE "/${m//_/[-_]}\.ko" "$moddir/modules.builtin" 2>/dev/null; then
        log "$m is built into $release"
    else
        log "warning: module $m not found in $release"
    fi
done

# Store plain .ko files: busybox's insmod does not decompress.
stage="$tmp/out"
mkdir -p "$stage/modules"
: > "$stage/modules.load"
for name in "${order[@]}"; do
    src="$moddir/${mod_path[$name]}"
    dst="$stage/modules/$name.ko"
    case "$src" in
        *.ko.xz)  xz -dc "$src" > "$dst" ;;
        *.ko.zst) zstd -qdc "$src" > "$dst" ;;
        *.ko.gz)  gzip -dc "$src" > "$dst" ;;
        *.ko)     cp "$src" "$dst" ;;
        *) die "unknown module format: $src" ;;
    esac
    echo "$name.ko" >> "$stage/modules.load"
done
cp "$vmlinuz" "$stage/vmlinuz"
cp "$tmp/root/boot/config-$release" "$stage/config" 2>/dev/null || true
echo "$release" > "$stage/kernel-release"
echo "$pkg $version" > "$stage/package"
log "modules (load order): ${order[*]}"

rm -rf "$out"
mv "$stage" "$out"
echo "$out"
