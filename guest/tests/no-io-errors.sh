# no-io-errors: the kernel logged no block I/O error, no hung task and no
# arm-smmu-v3 error since boot: for runs where the host did something the
# guest must not notice (the SMMU's backend killed and restarted).
# shellcheck source=guest/lib/common.sh
. /lib/vsmmu/common.sh

errors=$(dmesg | grep -E 'I/O error|blk_update_request|critical (medium|target) error|hung_task|blocked for more than|arm-smmu-v3.*(event 0x|CMD_SYNC|GERROR|timeout|failed)' || true)
if [ -n "$errors" ]; then
    echo "$errors" | head -n10 | sed 's/^/    /'
    fail "the kernel logged errors: $(echo "$errors" | head -n1)"
fi
say "no I/O, hung-task or SMMU errors in the kernel log"
