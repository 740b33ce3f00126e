# shellcheck shell=bash
# Private apt state for downloading Debian bookworm arm64 packages (guest
# kernel, busybox-static) without touching the system's apt state: lists,
# cache, status and sources all live under $VSMMU_CACHE/apt-arm64.
# Sourced after lib.sh, not run.

ARM64_APT_DIR="$VSMMU_CACHE/apt-arm64"
# The package lists are refreshed at most this often (minutes).
ARM64_APT_MAX_AGE_MIN=${ARM64_APT_MAX_AGE_MIN:-1440}

# The security archive the system already uses, else the mirror's sibling.
debian_security_mirror() {
    local m
    m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
        | grep -E '^[[:space:]]*(URIs:|deb )' | grep -oE 'https?://[^ ]+/debian-security/?' | head -n1 || true)
    [ -n "$m" ] || m="$(debian_mirror)-security"
    echo "${m%/}"
}

arm64_apt_setup() {
    local d=$ARM64_APT_DIR mirror security keyring=
    mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/etc/preferences.d" "$d/etc/apt.conf.d" "$d/debs"
    : > "$d/status.tmp"; [ -e "$d/status" ] || mv "$d/status.tmp" "$d/status"; rm -f "$d/status.tmp"
    mirror=$(debian_mirror)
    security=$(debian_security_mirror)
    [ -r /usr/share/keyrings/debian-archive-keyring.gpg ] \
        && keyring=" signed-by=/usr/share/keyrings/debian-archive-keyring.gpg"
    cat > "$d/sources.list.new" <<EOF
deb [arch=arm64$keyring] $mirror bookworm main
deb [arch=arm64$keyring] $mirror bookworm-updates main
deb [arch=arm64$keyring] $mirror bookworm-backports main
deb [arch=arm64$keyring] $security bookworm-security main
EOF
    # A changed sources file (other mirror) forces a refresh of the lists.
    if ! cmp -s "$d/sources.list.new" "$d/sources.list"; then
        mv "$d/sources.list.new" "$d/sources.list"; rm -f "$d/updated"
    else
        rm -f "$d/sources.list.new"
    fi
    ARM64_APT_OPTS=(
        -oAPT::Architecture=arm64 -oAPT::Architectures=arm64
        -oDir::State="$d" -oDir::State::Lists="$d/lists" -oDir::State::status="$d/status"
        -oDir::Cache="$d/cache"
        -oDir::Etc::SourceList="$d/sources.list" -oDir::Etc::SourceParts="$d/none"
        -oDir::Etc::Preferences="$d/none" -oDir::Etc::PreferencesParts="$d/etc/preferences.d"
        -oAPT::Sandbox::User=root -oAcquire::Languages=none
    )
}

# Runs under a lock so that two scripts never update the private lists at once.
arm64_apt_locked() { flock "$ARM64_APT_DIR/lock" "$@"; }

# Refreshes the private lists if they are missing or older than a day.
arm64_apt_refresh() {
    arm64_apt_setup
    if [ -e "$ARM64_APT_DIR/updated" ] \
        && [ -n "$(find "$ARM64_APT_DIR/updated" -mmin -"$ARM64_APT_MAX_AGE_MIN")" ]; then
        return 0
    fi
    log "updating the private arm64 package lists (bookworm, backports, security)"
    arm64_apt_locked apt-get -qq "${ARM64_APT_OPTS[@]}" update >&2 \
        || die "apt-get update of the private arm64 lists failed"
    touch "$ARM64_APT_DIR/updated"
}

# arm64_apt_cache ARGS... : apt-cache against the private lists.
arm64_apt_cache() { apt-cache "${ARM64_APT_OPTS[@]}" "$@"; }

# arm64_memo NAME CMD... : CMD's output, remembered until the lists change,
# so that a cache hit costs no apt-cache run.
arm64_memo() {
    local memo="$ARM64_APT_DIR/memo/$1"; shift
    if [ -s "$memo" ] && [ "$memo" -nt "$ARM64_APT_DIR/updated" ]; then cat "$memo"; return 0; fi
    mkdir -p "$ARM64_APT_DIR/memo"
    "$@" > "$memo.tmp" && mv "$memo.tmp" "$memo" && cat "$memo"
}

# arm64_candidate PKG [RELEASE] : the version apt would pick (from RELEASE if given).
arm64_candidate() { arm64_memo "candidate-$1-${2:-default}" arm64_policy_candidate "$@"; }
arm64_policy_candidate() {
    local rel=()
    [ -n "${2:-}" ] && rel=(-oAPT::Default-Release="$2")
    arm64_apt_cache "${rel[@]}" policy "$1" | awk '/Candidate:/ { print $2; exit }'
}

# arm64_download PKG VERSION : prints the path of the downloaded .deb (kept
# in the private dir, so a second call is a cache hit).
arm64_download() {
    local pkg=$1 ver=$2 deb
    deb="$ARM64_APT_DIR/debs/${pkg}_${ver//:/%3a}_arm64.deb"
    if [ ! -s "$deb" ]; then
        log "downloading $pkg $ver (arm64)"
        (cd "$ARM64_APT_DIR/debs" && arm64_apt_locked apt-get -qq "${ARM64_APT_OPTS[@]}" download "$pkg=$ver" >&2) \
            || die "apt-get download $pkg=$ver failed"
        [ -s "$deb" ] || die "apt-get download $pkg=$ver did not produce $deb"
    fi
    echo "$deb"
}
