# two-smmus: two vsmmu instances on two root buses, each with its own
# backend (boot with scripts/boot-guest --second-smmu --uefi): Linux probes
# two SMMUv3s from the IORT, the disk on pcie.0 (vda) is behind one and
# the disk on pcie.1 (vdb) behind the other, and dma-integrity passes on
# both disks at once.
# shellcheck source=guest/lib/common.sh
. /lib/vsmmu/common.sh

smmus=$(ls /sys/class/iommu 2>/dev/null | grep -c smmu || true)
[ "$smmus" -eq 2 ] || fail "$smmus SMMUs in /sys/class/iommu, expected 2: $(ls /sys/class/iommu 2>/dev/null | tr '\n' ' ')"

# smmu_of DISK: the SMMU (its /sys/class/iommu name) that translates DISK's DMA.
smmu_of() {
    _dev=$(readlink -f "/sys/block/$1/device")
    while [ -n "$_dev" ] && [ "$_dev" != / ]; do
        if [ -e "$_dev/iommu" ]; then basename "$(readlink -f "$_dev/iommu")"; return 0; fi
        _dev=$(dirname "$_dev")
    done
    return 1
}
VSMMU_DISK=vdb wait_disk > /dev/null || fail "no second disk /dev/vdb"
a=$(smmu_of vda) || fail "vda is behind no IOMMU"
b=$(smmu_of vdb) || fail "vdb is behind no IOMMU"
say "vda behind $a, vdb behind $b"
[ "$a" != "$b" ] || fail "both disks are behind the same SMMU ($a)"

# Both disks at once: each SMMU's map/unmap and invalidations in parallel.
# shellcheck disable=SC2030,SC2031 # each run has its own environment
( VSMMU_DISK=vda VSMMU_TEST_NAME=two-smmus/vda VSMMU_REASON=/tmp/reason.vda sh /tests/dma-integrity.sh ) &
pa=$!
( VSMMU_DISK=vdb VSMMU_TEST_NAME=two-smmus/vdb VSMMU_REASON=/tmp/reason.vdb sh /tests/dma-integrity.sh ) &
pb=$!
wait "$pa" || fail "dma-integrity on vda: $(cat /tmp/reason.vda 2>/dev/null)"
wait "$pb" || fail "dma-integrity on vdb: $(cat /tmp/reason.vdb 2>/dev/null)"
exit 0
