# Shared helpers for vSMMU's scripts. Sourced, not run.
# Heavy artefacts (QEMU, guest kernel, initramfs inputs) live outside the repo,
# under VSMMU_CACHE, keyed by their inputs so a second run is a cache hit.
set -euo pipefail
VSMMU_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VSMMU_CACHE=${VSMMU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vsmmu}
mkdir -p "$VSMMU_CACHE"

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# apt_install PKG... : installs only what is missing; one 'apt-get update' per run.
apt_install() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing: ${missing[*]}"
    if [ ! -e "$VSMMU_CACHE/.apt-updated-$$" ]; then
        as_root apt-get update -qq >&2
        touch "$VSMMU_CACHE/.apt-updated-$$"
    fi
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# The Debian mirror the system's apt already uses (no host names are hard-coded).
debian_mirror() {
    local m
    m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
        | grep -E '^[[:space:]]*(URIs:|deb )' | grep -oE 'https?://[^ ]+/debian/?' | grep -v security | head -n1)
    [ -n "$m" ] || die "cannot find the Debian mirror in the system's apt sources"
    echo "${m%/}"
}
