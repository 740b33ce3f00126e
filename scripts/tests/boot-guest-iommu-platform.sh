#!/usr/bin/env bash
# scripts/boot-guest puts the virtio disk and RNG behind the IOMMU for real:
# with an IOMMU they are modern-only devices with iommu_platform=on (without
# VIRTIO_F_ACCESS_PLATFORM, QEMU and Linux both bypass the IOMMU, and the
# guest suite's DMA never reached the SMMU); with none, plain devices. QEMU
# is the fake (scripts/tests/fake-qemu), which records its arguments.
set -euo pipefail
# shellcheck source=scripts/tests/fake-boot
source "$(dirname "$0")/fake-boot"
pass=0 fail=0
for iommu in vsmmu builtin none; do
    rc=0; FAKE_ARGS="$tmp/args" fake_boot --iommu "$iommu" --quiet > /dev/null || rc=$?
    blk=$(grep '^virtio-blk-pci,' "$tmp/args" || true)
    rng=$(grep '^virtio-rng-pci' "$tmp/args" || true)
    if [ "$iommu" = none ]; then want=0; else want=1; fi
    got=0
    [[ "$blk" == *iommu_platform=on* && "$rng" == *iommu_platform=on* && "$blk" == *disable-legacy=on* ]] && got=1
    if [ "$rc" = 0 ] && [ -n "$blk" ] && [ -n "$rng" ] && [ "$got" = "$want" ]; then
        echo "PASS: --iommu $iommu: virtio iommu_platform=on is $([ "$want" = 1 ] && echo set || echo absent)"; pass=$((pass + 1))
    else
        echo "FAIL: --iommu $iommu (status $rc): $blk / $rng"; fail=$((fail + 1))
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
