# dma-failure: with the SMMU's backend gone for good (QEMU's restart=off;
# the runner kills it when asked, boot-guest --kill-backend marker
# --no-restart), DMA behind the SMMU fails cleanly: O_DIRECT writes to
# the NVMe disk (boot-guest --nvme) end with an I/O error within
# vsmmu.failure_s seconds (default 60) instead of hanging. A virtio disk
# cannot show this: QEMU marks a virtio device whose ring access faults
# as broken and Linux's virtio drivers wait for it for ever, so this test
# touches no virtio device after the kill. Use short NVMe timeouts
# (nvme_core.io_timeout=5 nvme_core.admin_timeout=5) to keep it quick.
# shellcheck source=guest/lib/common.sh
. /lib/vsmmu/common.sh

limit=${VSMMU_FAILURE_S:-60}
disk=$(VSMMU_DISK=nvme0n1 wait_disk) || fail "no NVMe disk /dev/nvme0n1 (boot-guest --nvme)"
work=/tmp/dma-failure
mkdir -p $work
dd if=/dev/urandom of=$work/data bs=1M count=64 2>/dev/null || fail "cannot make data"
dd if=$work/data of="$disk" bs=64k count=16 oflag=direct 2>$work/err || fail "NVMe write before the kill failed: $(cat $work/err)"
say "NVMe DMA works; asking the runner to kill the SMMU backend (no restart)"

( while :; do dd if=$work/data of="$disk" bs=64k oflag=direct 2>>$work/err || exit 1; done ) &
writer=$!
sleep 0.2
echo "VSMMU-KILL-BACKEND"
t=$(now)
while kill -0 "$writer" 2>/dev/null; do
    if [ "$(awk -v s="$t" -v e="$(now)" 'BEGIN { print (e - s > '"$limit"') }')" = 1 ]; then
        kill "$writer" 2>/dev/null
        dmesg | grep -E 'nvme|I/O error' | tail -n8 | sed 's/^/    /'
        fail "the NVMe writes neither finished nor failed within $limit s of the kill: I/O hangs"
    fi
    sleep 0.2
done
wait "$writer" && fail "the writes went on succeeding with the SMMU's backend gone"
say "the writes failed after $(elapsed "$t") s: $(grep -m1 -i error $work/err)"
dmesg | grep -qE 'nvme0n1|nvme nvme0' || fail "the kernel logged nothing about nvme0"
dmesg | grep -E 'I/O error|nvme nvme0' | tail -n4 | sed 's/^/    /'
# EIO, as dd saw it (the block layer logs "I/O error" only for some of
# the requests it fails, rate-limited)
grep -q 'Input/output error' $work/err || dmesg | grep -q 'I/O error, dev nvme0n1' ||
    fail "the writes failed, but not with an I/O error: $(grep -m1 -i error $work/err)"
rm -rf $work
exit 0
