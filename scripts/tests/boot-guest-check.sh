#!/usr/bin/env bash
# scripts/boot-guest --check runs the backend in check mode with a report
# file and prints the reports' summary (0 reports: status 0), and with
# --expect-check fails when a report the guest announced is missing; a rule the
# backend does not know stops the backend at start (status 1, the
# backend's error in its log). The backend
# is the real one; QEMU is the fake (scripts/tests/fake-qemu), which never
# connects, so there is nothing to report.
set -euo pipefail
# shellcheck source=scripts/tests/fake-boot
source "$(dirname "$0")/fake-boot"
pass=0 fail=0
rc=0; fake_boot --iommu vsmmu --quiet --check > /dev/null || rc=$?
if [ "$rc" = 0 ] && grep -q 'check (all): 0 reports; 1 report file' "$tmp/stderr"; then
    echo "PASS: --check with no report passes and prints the summary"; pass=$((pass + 1))
else echo "FAIL: --check gave status $rc: $(tail -n2 "$tmp/stderr")"; fail=$((fail + 1)); fi
rc=0; fake_boot --iommu vsmmu --quiet --check=tlbi,bogus > /dev/null || rc=$?
if [ "$rc" = 1 ] && grep -q 'vsmmu exited at start' "$tmp/stderr" &&
   grep -rqs "unknown check rule 'bogus'" "$tmp/cache/logs"; then
    echo "PASS: an unknown rule stops the backend at start, which says why"; pass=$((pass + 1))
else
    echo "FAIL: an unknown rule gave status $rc: $(tail -n2 "$tmp/stderr")"; fail=$((fail + 1))
fi
# --expect-check: a report the guest announced but the checker did not
# make fails with status 7 (here the fake guest announces one and the
# backend, never connected, reports nothing).
rc=0; FAKE_CONSOLE=$'VSMMU-CHECK-EXPECT: rule=tlbi sid=1 ssid=2 address=0x1000\nVSMMU-GUEST: PASS' \
    fake_boot --iommu vsmmu --quiet --check --expect-check > /dev/null || rc=$?
if [ "$rc" = 7 ] && grep -q "no report matches the guest's 'rule=tlbi sid=1 ssid=2 address=0x1000'" "$tmp/stderr"; then
    echo "PASS: an announced report that is not made fails with status 7"; pass=$((pass + 1))
else
    echo "FAIL: an announced, unmade report gave status $rc: $(tail -n2 "$tmp/stderr")"; fail=$((fail + 1))
fi
# QEMU launching the backend: the check arguments join VSMMU_ARGS in
# backend-args, which QEMU splits with shell quoting (spaces kept; a comma
# in an option value doubled). Before the fix, spaces became commas and
# the backend got "--priq-log2,4" as one argument.
rc=0; FAKE_ARGS="$tmp/args" VSMMU_LAUNCH=qemu VSMMU_ARGS="--priq-log2 4" \
    fake_boot --iommu vsmmu --quiet --check=tlbi,cfgi > /dev/null || rc=$?
want="backend-args=--priq-log2 4 --check=tlbi,,cfgi --check-report "
if grep -q -- "^vsmmu,id=vsmmu0,primary-bus=pcie.0,backend=.*,$want" "$tmp/args"; then
    echo "PASS: QEMU gets the backend's arguments as words, commas doubled"; pass=$((pass + 1))
else
    echo "FAIL: no '$want' in QEMU's arguments: $(grep vsmmu, "$tmp/args")"; fail=$((fail + 1))
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
