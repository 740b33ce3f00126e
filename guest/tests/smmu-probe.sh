# smmu-probe: the arm-smmu-v3 driver probed without errors and the PCI devices
# behind it work (their drivers bound, in an IOMMU group, and doing DMA).
# With vsmmu.iommu=none there must be no SMMU at all.
# shellcheck source=guest/lib/common.sh
. /lib/vsmmu/common.sh

probe=$(dmesg | grep 'arm-smmu-v3')
if [ "$VSMMU_IOMMU" = none ]; then
    [ -z "$probe" ] || fail "arm-smmu-v3 probed although the runner said iommu=none"
    say "no SMMU (runner said iommu=none)"
else
    [ -n "$probe" ] || fail "no SMMU: arm-smmu-v3 did not probe (iommu=$VSMMU_IOMMU)"
    say "arm-smmu-v3 probe lines:"
    echo "$probe" | sed 's/^/    /'
    # vsmmu.smmu_from=iort (UEFI boots): the SMMU came from ACPI's IORT,
    # whose platform devices are named arm-smmu-v3.N.auto, not from the DT.
    if [ "${VSMMU_SMMU_FROM:-}" = iort ]; then
        echo "$probe" | grep -q 'arm-smmu-v3 arm-smmu-v3\.[0-9]*\.auto' \
            || fail "the SMMU was not probed from the IORT (ACPI)"
        say "probed from the IORT (ACPI)"
    fi
    # Raw records start with <level>; 0-4 are emerg..warning. Events and sync
    # timeouts are errors whatever their level.
    errors=$(dmesg -r | grep 'arm-smmu-v3' \
        | grep -E '^<[0-4]>|event 0x|CMD_SYNC|GERROR|timeout|failed|unexpected' || true)
    if [ -n "$errors" ]; then
        echo "$errors" | sed 's/^/    /'
        fail "arm-smmu-v3 reported errors: $(echo "$errors" | head -n1)"
    fi
fi

# vsmmu.msi=1 (the runner: vsmmu with a GICv3 ITS): the SMMU's own
# interrupts are MSIs through the ITS (the device tree's msi-parent), not
# wired: Linux names them arm-smmu-v3-evtq / -gerror (and -priq with PRI).
if [ "${VSMMU_MSI:-0}" = 1 ]; then
    irqs=$(grep -E 'arm-smmu-v3-(evtq|priq|gerror)' /proc/interrupts || true)
    say "SMMU interrupts:"
    echo "$irqs" | sed 's/^ */    /'
    for q in evtq gerror; do
        echo "$irqs" | grep "arm-smmu-v3-$q" | grep -q 'MSI' \
            || fail "arm-smmu-v3-$q is not an MSI (no msi-parent, or Linux fell back to wired interrupts)"
    done
    ! dmesg | grep -q 'msi_domain absent' || fail "arm-smmu-v3: msi_domain absent, wired interrupts used"
fi

# Every virtio PCI device: driver bound, and in an IOMMU group unless iommu=none.
count=0
for dev in /sys/bus/pci/devices/*; do
    [ "$(cat "$dev/vendor")" = 0x1af4 ] || continue
    count=$((count + 1))
    name=${dev##*/}
    [ -e "$dev/driver" ] || fail "$name has no driver"
    drv=$(basename "$(readlink "$dev/driver")")
    if [ "$VSMMU_IOMMU" = none ]; then
        [ ! -e "$dev/iommu_group" ] || fail "$name is in an IOMMU group although iommu=none"
        say "$name $(cat "$dev/device") driver=$drv no IOMMU"
    else
        [ -e "$dev/iommu_group" ] || fail "$name is not behind the SMMU (no iommu_group)"
        group=$(basename "$(readlink "$dev/iommu_group")")
        type=$(cat "$dev/iommu_group/type")
        say "$name $(cat "$dev/device") driver=$drv iommu_group=$group type=$type"
        # vsmmu.domain=DMA|DMA-FQ|identity: the domain type iommu.strict /
        # iommu.passthrough on the command line must have produced.
        if [ -n "${VSMMU_DOMAIN:-}" ] && [ "$type" != "$VSMMU_DOMAIN" ]; then
            fail "$name has domain type $type, expected $VSMMU_DOMAIN"
        fi
    fi
done
[ "$count" -gt 0 ] || fail "no virtio PCI device found"

# The devices do DMA: a direct read from the disk, random bytes from virtio-rng.
disk=$(wait_disk) || fail "no disk /dev/${VSMMU_DISK:-vda}"
dd if="$disk" of=/dev/null bs=64k count=16 iflag=direct 2>/dev/null \
    || dd if="$disk" of=/dev/null bs=64k count=16 2>/dev/null \
    || fail "cannot read $disk"
say "read 1 MiB from $disk"
if [ -c /dev/hwrng ] && grep -q virtio /sys/class/misc/hw_random/rng_current 2>/dev/null; then
    bytes=$(dd if=/dev/hwrng bs=32 count=1 2>/dev/null | wc -c)
    [ "$bytes" = 32 ] || fail "virtio-rng returned $bytes bytes instead of 32"
    say "read 32 bytes from virtio-rng"
fi
exit 0
