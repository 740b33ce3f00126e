# dma-integrity: pseudo-random data written to the scratch disk by two
# processes at once (different ranges), read back by two processes at once,
# and compared by checksum. O_DIRECT where possible, so every byte is DMA'd.
#   vsmmu.dma_mb=N   total MiB (default 32), split between the two processes
#   vsmmu.dma_bs=S   dd block size (default 64k: many map/unmap operations)
#   vsmmu.dma_corrupt=1  flips one read-back byte: proves the check can fail
#   vsmmu.dma_kill=1 asks the runner to kill the SMMU's backend in the middle
#                    of the writes and of the reads (boot-guest --kill-backend
#                    marker): the DMA must go on through the restarted one
# shellcheck source=guest/lib/common.sh
. /lib/vsmmu/common.sh

total=${VSMMU_DMA_MB:-32}
bs=${VSMMU_DMA_BS:-64k}
half=$((total / 2))
disk=$(wait_disk) || fail "no disk /dev/${VSMMU_DISK:-vda}"
[ "$(disk_mib "$disk")" -ge "$total" ] || fail "$disk is smaller than $total MiB"
bs_bytes=$(echo "$bs" | awk '/k$/ { print $1 * 1024; next } /M$/ { print $1 * 1048576; next } { print $1 + 0 }')
blocks=$((half * 1048576 / bs_bytes))
flag=$(direct_flag "$disk")
# per disk, so that two runs on two disks can go at once
work=/tmp/dma-${disk##*/}
mkdir -p "$work"
say "$total MiB in 2 streams of $half MiB, bs=$bs, ${flag:-buffered (no O_DIRECT)}"

# Data and checksums are made in parallel too (one stream per vCPU): in TCG
# hashing costs more than the I/O. md5 is enough to catch DMA corruption.
for part in 0 1; do
    ( dd if=/dev/urandom of=$work/data.$part bs=1M count="$half" 2>/dev/null \
          && md5sum < $work/data.$part | cut -d' ' -f1 > $work/sum.$part ) &
done
wait
if [ ! -s $work/sum.0 ] || [ ! -s $work/sum.1 ]; then fail "cannot make random data"; fi

# With vsmmu.dma_kill=1, once the transfers are under way.
kill_backend_midway() {
    [ "${VSMMU_DMA_KILL:-0}" = 1 ] || return 0
    sleep 0.1
    say "asking the runner to kill the SMMU backend now"
    echo "VSMMU-KILL-BACKEND"
}

t=$(now)
for part in 0 1; do
    ( dd if=$work/data.$part of="$disk" bs="$bs" seek=$((part * blocks)) count="$blocks" \
          conv=notrunc,fsync ${flag:+oflag=$flag} 2>$work/dd.err.$part; echo $? > $work/rc.$part ) &
done
kill_backend_midway
wait
for part in 0 1; do
    [ "$(cat $work/rc.$part)" = 0 ] || fail "write of stream $part failed: $(cat $work/dd.err.$part)"
done
say "wrote $total MiB in $(elapsed "$t") s"
[ -n "$flag" ] || drop_caches

t=$(now)
for part in 0 1; do
    ( dd if="$disk" of=$work/back.$part bs="$bs" skip=$((part * blocks)) count="$blocks" \
          ${flag:+iflag=$flag} 2>$work/dd.err.$part; echo $? > $work/rc.$part ) &
done
kill_backend_midway
wait
for part in 0 1; do
    [ "$(cat $work/rc.$part)" = 0 ] || fail "read of stream $part failed: $(cat $work/dd.err.$part)"
done
say "read $total MiB in $(elapsed "$t") s"

if [ "${VSMMU_DMA_CORRUPT:-0}" = 1 ]; then
    say "vsmmu.dma_corrupt=1: flipping byte 12345 of stream 1's read-back copy"
    old=$(dd if=$work/back.1 bs=1 skip=12345 count=1 2>/dev/null | od -An -c | tr -d ' ')
    new=X; [ "$old" = X ] && new=Y
    printf %s "$new" | dd of=$work/back.1 bs=1 seek=12345 conv=notrunc 2>/dev/null
fi
for part in 0 1; do
    md5sum < $work/back.$part | cut -d' ' -f1 > $work/got.$part &
done
wait
for part in 0 1; do
    got=$(cat $work/got.$part)
    want=$(cat $work/sum.$part)
    [ "$got" = "$want" ] || fail "stream $part read back differs (md5 $got, wrote $want)"
    say "stream $part md5 $got matches"
done
rm -rf "$work"
exit 0
