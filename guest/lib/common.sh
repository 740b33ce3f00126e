# shellcheck shell=sh
# Helpers shared by the guest tests (/tests/*.sh). Sourced, busybox sh.

say() { echo "  [$VSMMU_TEST_NAME] $*"; }

# fail REASON: records the reason for the verdict line and ends the test.
fail() {
    echo "  [$VSMMU_TEST_NAME] FAIL: $*"
    echo "$*" > "${VSMMU_REASON:-/tmp/vsmmu-reason}"
    exit 1
}

# now: seconds since boot with centisecond resolution.
now() { cut -d' ' -f1 /proc/uptime; }

# elapsed START: seconds since START (from now), two decimals.
elapsed() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.2f", e - s }'; }

# wait_disk: prints the scratch disk's device node (vsmmu.disk=NAME, default
# vda), waiting up to 10 s for the driver to create it; status 1 if it never
# appears. Use as: disk=$(wait_disk) || fail "no disk".
wait_disk() {
    _disk=/dev/${VSMMU_DISK:-vda}
    _i=0
    while [ ! -b "$_disk" ] && [ "$_i" -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
    [ -b "$_disk" ] || return 1
    echo "$_disk"
}

# disk_mib DEV: the size of a block device in MiB.
disk_mib() { echo $(( $(cat "/sys/class/block/${1#/dev/}/size") / 2048 )); }

# direct_flag DEV: "direct" if dd can use O_DIRECT on DEV, else empty (then
# the page cache is dropped between writing and reading instead).
direct_flag() {
    if dd if="$1" of=/dev/null bs=4096 count=1 iflag=direct 2>/dev/null; then echo direct; fi
}

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }
