#!/usr/bin/env bash
# Builds qemu-system-aarch64 from Debian's pinned QEMU 10.2.x source (sid) with the
# series in qemu-patches/ applied. The result is cached under VSMMU_CACHE,
# keyed by the QEMU version, the series and this script, so a second run is a
# cache hit. Prints the path of the binary; the series' qtest (vsmmu-test) is
# cached next to it.
#   --dev DIR   also leave a git tree of the patched source at DIR (for
#               developing the series: commit there, then git format-patch).
source "$(dirname "$0")/lib.sh"
devdir=
[ "${1:-}" = --dev ] && devdir=$2

apt_install libglib2.0-dev libpixman-1-dev libfdt-dev ninja-build flex bison pkg-config \
    git python3-venv
python3 - <<'PY' 2>/dev/null || { log "installing meson and pycotap from PyPI"; python3 -m pip install -q 'meson>=1.5' 'pycotap==1.3.1' >&2; }
import importlib.metadata as m, sys
v = tuple(int(x) for x in m.version('meson').split('.')[:2]); m.version('pycotap')
sys.exit(0 if v >= (1, 5) else 1)
PY

src=$(bash "$VSMMU_ROOT/scripts/fetch-qemu-source.sh")
version=$(basename "$src"); version=${version#qemu-}
series_hash=$( (cat "$VSMMU_ROOT"/qemu-patches/*.patch 2>/dev/null; cat "$0") | sha256sum | cut -c1-16)
out="$VSMMU_CACHE/qemu/$version-$series_hash"
bin="$out/bin/qemu-system-aarch64"
if [ -x "$bin" ] && [ -x "$out/bin/vsmmu-test" ] && [ -z "$devdir" ]; then echo "$bin"; exit 0; fi

tree=${devdir:-$out/src}
rm -rf "$tree"; mkdir -p "$(dirname "$tree")"
cp -a "$src" "$tree"
rm -f "$tree/.vsmmu-unpacked"
(
    cd "$tree"
    git init -q && git add -A && git -c user.name=vsmmu -c user.email=vsmmu@localhost \
        commit -qm "QEMU $version (Debian source)"
    if ls "$VSMMU_ROOT"/qemu-patches/*.patch >/dev/null 2>&1; then
        git -c user.name=vsmmu -c user.email=vsmmu@localhost am -q "$VSMMU_ROOT"/qemu-patches/*.patch >&2 \
            || die "the series in qemu-patches/ does not apply to QEMU $version"
    fi
    # Debian strips the prebuilt firmware; configure only needs the names to exist.
    for f in pc-bios/edk2-aarch64-code.fd pc-bios/edk2-arm-code.fd pc-bios/edk2-arm-vars.fd \
             pc-bios/edk2-i386-code.fd pc-bios/edk2-i386-secure-code.fd pc-bios/edk2-i386-vars.fd \
             pc-bios/edk2-x86_64-code.fd pc-bios/edk2-x86_64-secure-code.fd \
             pc-bios/edk2-loongarch64-code.fd pc-bios/edk2-loongarch64-vars.fd \
             pc-bios/edk2-riscv-code.fd pc-bios/edk2-riscv-vars.fd; do
        [ -e "$f.bz2" ] || : > "$f.bz2"
    done
    mkdir -p build && cd build
    log "configuring QEMU $version"
    ../configure --target-list=aarch64-softmmu --disable-docs --disable-tools --disable-user \
        --disable-gtk --disable-sdl --disable-vnc --disable-opengl --disable-spice \
        --disable-install-blobs --disable-werror --disable-download --enable-fdt=system \
        --disable-xen --disable-curses --disable-brlapi --disable-capstone --disable-slirp \
        --disable-libusb --disable-usb-redir --disable-smartcard --disable-guest-agent >&2
    log "building QEMU (several minutes)"
    ninja qemu-system-aarch64 tests/qtest/vsmmu-test >&2
)
mkdir -p "$out/bin"
cp "$tree/build/tests/qtest/vsmmu-test" "$out/bin/vsmmu-test.tmp" && mv "$out/bin/vsmmu-test.tmp" "$out/bin/vsmmu-test"
cp "$tree/build/qemu-system-aarch64" "$bin.tmp" && mv "$bin.tmp" "$bin"
[ -n "$devdir" ] || rm -rf "$tree"
echo "$bin"
