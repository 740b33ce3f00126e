# throughput: reads and/or writes the scratch disk with O_DIRECT and prints
# one line per direction and block size for the benchmark:
#   VSMMU-THROUGHPUT: mib=256 bs=1M direct=direct dir=read seconds=S mb_per_s=R
# (MB = 10^6 bytes, as dd prints).
#   vsmmu.tput_mb=N      MiB per measurement (default 256)
#   vsmmu.tput_bs=LIST   block sizes, ':'-separated (default 1M)
#   vsmmu.tput_dir=LIST  read, write or read:write (default read)
# shellcheck source=guest/lib/common.sh
. /lib/vsmmu/common.sh

mib=${VSMMU_TPUT_MB:-256}
disk=$(wait_disk) || fail "no disk /dev/${VSMMU_DISK:-vda}"
size=$(disk_mib "$disk")
[ "$size" -ge "$mib" ] || { say "$disk has only $size MiB: using that"; mib=$size; }
flag=$(direct_flag "$disk")

for dir in $(echo "${VSMMU_TPUT_DIR:-read}" | tr ':' ' '); do
    for bs in $(echo "${VSMMU_TPUT_BS:-1M}" | tr ':' ' '); do
        bs_bytes=$(echo "$bs" | awk '/k$/ { print $1 * 1024; next } /M$/ { print $1 * 1048576; next } { print $1 + 0 }')
        [ "$bs_bytes" -gt 0 ] || fail "bad block size $bs"
        [ -n "$flag" ] || drop_caches
        count=$((mib * 1048576 / bs_bytes))
        t=$(now)
        case "$dir" in
            read) dd if="$disk" of=/dev/null bs="$bs" count="$count" ${flag:+iflag=$flag} \
                      2>/tmp/dd.out || fail "read failed: $(cat /tmp/dd.out)" ;;
            write) dd if=/dev/zero of="$disk" bs="$bs" count="$count" ${flag:+oflag=$flag} \
                       2>/tmp/dd.out || fail "write failed: $(cat /tmp/dd.out)" ;;
            *) fail "vsmmu.tput_dir takes read and write, not $dir" ;;
        esac
        # /proc/uptime has 10 ms resolution: about 1% of a 256 MiB read here.
        secs=$(elapsed "$t")
        rate=$(awk -v m="$mib" -v s="$secs" 'BEGIN { if (s > 0) printf "%.1f", m * 1048576 / s / 1e6; else print "inf" }')
        echo "VSMMU-THROUGHPUT: mib=$mib bs=$bs direct=${flag:-no} dir=$dir seconds=$secs mb_per_s=$rate"
    done
done
exit 0
