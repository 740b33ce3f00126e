# net-frames: raw frames from the first virtio NIC to the second, both on
# one QEMU hub (scripts/boot-guest --net-pair), one in flight at a time;
# prints the VSMMU-NET line the benchmark reads.
#   vsmmu.net_frames=N (default 2000), vsmmu.net_size=BYTES (default 1024)
# shellcheck source=guest/lib/common.sh
. /lib/vsmmu/common.sh

[ -x /bin/vsmmu-netpair ] || fail "no /bin/vsmmu-netpair in the initramfs"
nics=$(for d in /sys/class/net/*; do
    [ "$(basename "$(readlink -f "$d/device/driver" 2>/dev/null)")" = virtio_net ] && basename "$d"
done | sort)
set -- $nics
[ $# -ge 2 ] || fail "need two virtio NICs (boot-guest --net-pair), found: ${nics:-none}"
for nic in "$1" "$2"; do ip link set dev "$nic" up || fail "cannot bring $nic up"; done
out=$(/bin/vsmmu-netpair "$1" "$2" "${VSMMU_NET_FRAMES:-2000}" "${VSMMU_NET_SIZE:-1024}" 2>&1) \
    || fail "frames from $1 to $2: $out"
echo "$out"
exit 0
