#!/usr/bin/env bash
# Downloads the pinned QEMU source as Debian ships it (sid's qemu 1:10.2.2+ds-1),
# into the cache, using a private apt state so the system's apt configuration
# is untouched. Prints the path of the unpacked tree (Debian's patches applied).
# QEMU_DEB_VERSION overrides the pin (it must be a version sid's Sources lists).
source "$(dirname "$0")/lib.sh"

apt_install dpkg-dev xz-utils ca-certificates
aptdir="$VSMMU_CACHE/apt-sid-src"
mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial"
mirror=$(debian_mirror)
echo "deb-src [trusted=yes] $mirror sid main" > "$aptdir/sources.list"
aptopts=(-oDir::State::Lists="$aptdir/lists" -oDir::Cache="$aptdir/cache"
         -oDir::Etc::SourceList="$aptdir/sources.list" -oDir::Etc::SourceParts=/dev/null
         -oAcquire::AllowInsecureRepositories=true)

version=${QEMU_DEB_VERSION:-1:10.2.2+ds-1}
upstream=${version#*:}; upstream=${upstream%-*}
srcroot="$VSMMU_CACHE/qemu-src/${version//:/_}"
tree="$srcroot/qemu-$upstream"
if [ ! -f "$tree/.vsmmu-unpacked" ]; then
    apt-get "${aptopts[@]}" -qq update >&2 \
        || die "cannot read sid's Sources index from $mirror (needed for QEMU $version)"
    apt-cache "${aptopts[@]}" showsrc qemu 2>/dev/null | grep -q "^Version: $version\$" \
        || die "sid's Sources index at $mirror no longer lists qemu $version; set QEMU_DEB_VERSION to a 10.2.x version it lists"
fi
if [ ! -f "$tree/.vsmmu-unpacked" ]; then
    rm -rf "$srcroot"; mkdir -p "$srcroot"
    log "downloading qemu source $version"
    (cd "$srcroot" && apt-get "${aptopts[@]}" -qq source --download-only "qemu=$version" >&2) \
        || die "qemu $version is listed in sid but its source files did not download from $mirror"
    dsc=$(ls "$srcroot"/qemu_*.dsc | head -n1)
    (cd "$srcroot" && dpkg-source --no-check -x "$dsc" "qemu-$upstream" >&2)
    touch "$tree/.vsmmu-unpacked"
fi
echo "$tree"
