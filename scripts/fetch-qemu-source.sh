#!/usr/bin/env bash
# Downloads QEMU 10.0.x source as Debian trixie ships it, into the cache,
# using a private apt state so the system's apt configuration is untouched.
# Prints the path of the unpacked tree (Debian's patches applied).
source "$(dirname "$0")/lib.sh"

apt_install dpkg-dev xz-utils ca-certificates
aptdir="$VSMMU_CACHE/apt-trixie-src"
mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial"
mirror=$(debian_mirror)
echo "deb-src [trusted=yes] $mirror trixie main" > "$aptdir/sources.list"
aptopts=(-oDir::State::Lists="$aptdir/lists" -oDir::Cache="$aptdir/cache"
         -oDir::Etc::SourceList="$aptdir/sources.list" -oDir::Etc::SourceParts=/dev/null
         -oAcquire::AllowInsecureRepositories=true)

version=${QEMU_DEB_VERSION:-}
if [ -z "$version" ]; then
    if [ ! -s "$aptdir/version" ] || [ -n "$(find "$aptdir/version" -mtime +7 2>/dev/null)" ]; then
        apt-get "${aptopts[@]}" -qq update >&2
        apt-cache "${aptopts[@]}" showsrc qemu | awk '/^Version:/ {print $2}' \
            | grep -E '^1:10\.0\.' | sort -V | tail -n1 > "$aptdir/version"
    fi
    version=$(cat "$aptdir/version")
fi
[ -n "$version" ] || die "no QEMU 10.0.x source in trixie"
upstream=${version#*:}; upstream=${upstream%-*}
srcroot="$VSMMU_CACHE/qemu-src/${version//:/_}"
tree="$srcroot/qemu-$upstream"
if [ ! -f "$tree/.vsmmu-unpacked" ]; then
    rm -rf "$srcroot"; mkdir -p "$srcroot"
    log "downloading qemu source $version"
    (cd "$srcroot" && apt-get "${aptopts[@]}" -qq source --download-only "qemu=$version" >&2)
    dsc=$(ls "$srcroot"/qemu_*.dsc | head -n1)
    (cd "$srcroot" && dpkg-source --no-check -x "$dsc" "qemu-$upstream" >&2)
    touch "$tree/.vsmmu-unpacked"
fi
echo "$tree"
