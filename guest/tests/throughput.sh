# throughput: reads the scratch disk with O_DIRECT and prints one line for the
# benchmark:  VSMMU-THROUGHPUT: mib=256 bs=1M direct=direct seconds=S mb_per_s=R
# (MB = 10^6 bytes, as dd prints).  vsmmu.tput_mb=N, vsmmu.tput_bs=S.
# shellcheck source=guest/lib/common.sh
. /lib/vsmmu/common.sh

mib=${VSMMU_TPUT_MB:-256}
bs=${VSMMU_TPUT_BS:-1M}
disk=$(wait_disk) || fail "no disk /dev/${VSMMU_DISK:-vda}"
size=$(disk_mib "$disk")
[ "$size" -ge "$mib" ] || { say "$disk has only $size MiB: reading that"; mib=$size; }
flag=$(direct_flag "$disk")
[ -n "$flag" ] || drop_caches
bs_bytes=$(echo "$bs" | awk '/k$/ { print $1 * 1024; next } /M$/ { print $1 * 1048576; next } { print $1 + 0 }')
t=$(now)
dd if="$disk" of=/dev/null bs="$bs" count=$((mib * 1048576 / bs_bytes)) ${flag:+iflag=$flag} \
    2>/tmp/dd.out || fail "read failed: $(cat /tmp/dd.out)"
# /proc/uptime has 10 ms resolution: about 1% of a 256 MiB read here.
secs=$(elapsed "$t")
rate=$(awk -v m="$mib" -v s="$secs" 'BEGIN { if (s > 0) printf "%.1f", m * 1048576 / s / 1e6; else print "inf" }')
echo "VSMMU-THROUGHPUT: mib=$mib bs=$bs direct=${flag:-no} seconds=$secs mb_per_s=$rate"
exit 0
