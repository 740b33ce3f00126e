# sva: Linux SVA on the vsmmu (docs/sva.md): the SVA kernel
# (scripts/boot-guest --sva-kernel) with the SVA test driver bound to the
# platform stall test device (--stall-testdev) and to the PCIe test
# endpoint (--testdev, check pri-teardown). Runs /bin/vsmmu-sva, which
# prints one "CHECK <name>: PASS|FAIL|UNSUPPORTED <detail>" line per check.
#   vsmmu.sva_checks=LIST   checks to run (default: all; ':' separates too)
#   vsmmu.sva_processes=N   processes of the 'scale' check (default 64)
#   vsmmu.sva_expect=unsupported  every check must say UNSUPPORTED (no
#                           SVA-capable endpoint: QEMU's built-in SMMUv3)
#   vsmmu.sva_buggy=BUG     the test driver's deliberate bug (its module
#                           parameter buggy, e.g. skip-tlbi for check
#                           buggy-tlbi; docs/checker.md)
# shellcheck source=guest/lib/common.sh
. /lib/vsmmu/common.sh

checks=$(echo "${VSMMU_SVA_CHECKS:-bind-dma,iopf,iopf-abort,munmap,exit,teardown,pri-teardown,scale}" | tr ':' ',')
[ -x /bin/vsmmu-sva ] || fail "no /bin/vsmmu-sva in the initramfs"
say "checks: $checks"
dmesg -c > /dev/null
if [ -n "${VSMMU_SVA_BUGGY:-}" ]; then
    echo "$VSMMU_SVA_BUGGY" > /sys/module/vsmmu_sva/parameters/buggy ||
        fail "cannot set the test driver's buggy parameter"
    say "the test driver's deliberate bug: $VSMMU_SVA_BUGGY"
fi
# The driver bounds each DMA (10 s); timeout guards against a stuck ioctl.
timeout 240 /bin/vsmmu-sva --checks "$checks" --processes "${VSMMU_SVA_PROCESSES:-64}" \
    > /tmp/sva.out 2>&1
rc=$?
sed 's/^/    /' /tmp/sva.out
grep -q '^CHECK ' /tmp/sva.out || fail "no CHECK lines (exit $rc): $(tail -n1 /tmp/sva.out)"
if [ "${VSMMU_SVA_EXPECT:-pass}" = unsupported ]; then
    bad=$(grep '^CHECK ' /tmp/sva.out | grep -v ': UNSUPPORTED' | head -n1)
    [ -z "$bad" ] || fail "expected UNSUPPORTED: $bad"
    [ "$rc" = 0 ] || fail "vsmmu-sva exited with status $rc"
    exit 0
fi
# A UEFI boot (vsmmu.firmware=acpi) finds the stall device in ACPI: a
# PRP0001 device in the DSDT whose IORT named component names its StreamID.
if [ "${VSMMU_FIRMWARE:-}" = acpi ]; then
    dev=$(readlink /sys/class/misc/vsmmu-sva0/device 2>/dev/null || true)
    case "$dev" in
        *PRP0001*) say "stall device from ACPI (DSDT PRP0001, IORT named component): ${dev##*/}" ;;
        *) fail "the SVA endpoint is not the ACPI stall device: ${dev:-none}" ;;
    esac
fi
bad=$(grep '^CHECK ' /tmp/sva.out | grep -v ': PASS' | head -n1)
[ -z "$bad" ] || fail "$bad"
[ "$rc" = 0 ] || fail "vsmmu-sva exited with status $rc"
# Faults the scenarios provoke are answered, not logged as errors.
log=$(dmesg | grep -E 'arm-smmu-v3.*([Ee]rror|failed|timeout|event 0x|overflow)|iopf .*aborted|BUG:|WARNING:|Oops|blocked for more than' | head -n3)
[ -z "$log" ] || fail "kernel log: $log"
exit 0
