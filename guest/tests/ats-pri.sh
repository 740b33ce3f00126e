# ats-pri: ATS and PRI end to end through VFIO with the vsmmu-testdev
# endpoint (boot with scripts/boot-guest --testdev). Runs /bin/vsmmu-ats-pri,
# which prints one "CHECK <name>: PASS|FAIL|UNSUPPORTED <detail>" line per
# check; see docs/guest-ats-pri.md.
#   vsmmu.ats_checks=LIST   checks to run (default dma,fault,ats,atc-inv,pri;
#                           pri-overflow needs a small PRI queue)
#   vsmmu.priq_entries=N    PRI queue entries for pri-overflow (default 16)
#   vsmmu.pri_groups=N      page request groups in the overflow burst (default 24)
#   vsmmu.ats_expect=unsupported  ATS/PRI checks must report UNSUPPORTED
#                           (the built-in SMMUv3); default: every check passes
# shellcheck source=guest/lib/common.sh
. /lib/vsmmu/common.sh

checks=${VSMMU_ATS_CHECKS:-dma,fault,ats,atc-inv,pri}
# vsmmu.* values cannot hold commas on some boot paths: ':' works too.
checks=$(echo "$checks" | tr ':' ',')
[ -x /bin/vsmmu-ats-pri ] || fail "no /bin/vsmmu-ats-pri in the initramfs"
say "checks: $checks"
# The program bounds every wait itself; timeout guards against a stuck ioctl.
timeout 120 /bin/vsmmu-ats-pri --checks "$checks" \
    --priq-entries "${VSMMU_PRIQ_ENTRIES:-16}" --groups "${VSMMU_PRI_GROUPS:-24}" \
    > /tmp/ats-pri.out 2>&1
rc=$?
sed 's/^/    /' /tmp/ats-pri.out
grep -q '^CHECK ' /tmp/ats-pri.out || fail "no CHECK lines (exit $rc): $(tail -n1 /tmp/ats-pri.out)"
if [ "${VSMMU_ATS_EXPECT:-pass}" = unsupported ]; then
    # Every ATS/PRI check UNSUPPORTED, the others PASS, and a clean exit.
    for name in ats atc-inv pri pri-overflow; do
        line=$(grep "^CHECK $name: " /tmp/ats-pri.out || true)
        [ -z "$line" ] || echo "$line" | grep -q "^CHECK $name: UNSUPPORTED" \
            || fail "expected $name UNSUPPORTED: $line"
    done
fi
# With vsmmu.msi=1 the 'fault' check's event reached the driver through an
# MSI: the ITS translated the SMMU's write by the DeviceID it carries.
if [ "${VSMMU_MSI:-0}" = 1 ] && echo ",$checks," | grep -q ',fault,'; then
    line=$(grep 'arm-smmu-v3-evtq' /proc/interrupts || true)
    n=$(echo "$line" | awk '{ s = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i; print s + 0 }')
    echo "$line" | grep -q MSI || fail "arm-smmu-v3-evtq is not an MSI: $line"
    [ "$n" -gt 0 ] || fail "the fault check's event came without an event-queue MSI: $line"
    say "event queue MSIs through the ITS: $n"
fi
bad=$(grep '^CHECK ' /tmp/ats-pri.out | grep -v ': PASS\|: UNSUPPORTED' | head -n1)
[ -z "$bad" ] || fail "$bad"
[ "$rc" = 0 ] || fail "vsmmu-ats-pri exited with status $rc"
exit 0
