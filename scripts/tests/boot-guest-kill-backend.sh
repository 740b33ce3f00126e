#!/usr/bin/env bash
# scripts/boot-guest --kill-backend: with "marker", each VSMMU-KILL-BACKEND
# the guest prints kills QEMU's backend child, and the run passes only if
# QEMU restarted it with the SMMU state after each kill (status 8
# otherwise); with a count, a guest that finishes before all the kills
# fails with status 8 and the seed; with --no-restart the one kill must be
# reported as a loss and not restarted; bad values are usage errors. QEMU is
# the fake (scripts/tests/fake-qemu), whose backend child is a sleep named
# vsmmu.
set -euo pipefail
# shellcheck source=scripts/tests/fake-boot
source "$(dirname "$0")/fake-boot"
pass=0 fail=0
two_kills=$'VSMMU-KILL-BACKEND\nVSMMU-KILL-BACKEND\nVSMMU-GUEST: PASS'
rc=0; FAKE_BACKEND=$tmp FAKE_CONSOLE=$two_kills fake_boot --iommu vsmmu --quiet --kill-backend marker > /dev/null || rc=$?
if [ "$rc" = 0 ] && grep -q -- '--kill-backend: 2 kills, 2 restarts with the SMMU state' "$tmp/stderr"; then
    echo "PASS: each marker kills the backend, and each restart kept the state"; pass=$((pass + 1))
else echo "FAIL: marker kills gave status $rc: $(tail -n2 "$tmp/stderr")"; fail=$((fail + 1)); fi
rc=0; FAKE_BACKEND=$tmp FAKE_BACKEND_STATELESS=1 FAKE_CONSOLE=$two_kills \
    fake_boot --iommu vsmmu --quiet --kill-backend marker > /dev/null || rc=$?
if [ "$rc" = 8 ] && grep -q -- '2 kills but 0 restarts with the state' "$tmp/stderr"; then
    echo "PASS: a restart that lost the SMMU state fails with status 8"; pass=$((pass + 1))
else echo "FAIL: a stateless restart gave status $rc: $(tail -n2 "$tmp/stderr")"; fail=$((fail + 1)); fi
rc=0; FAKE_BACKEND=$tmp fake_boot --iommu vsmmu --quiet --kill-backend 3 --kill-seed 42 > /dev/null || rc=$?
if [ "$rc" = 8 ] && grep -q -- 'only [0-2] of 3 kills before the guest finished (seed 42)' "$tmp/stderr"; then
    echo "PASS: a guest done before the kills fails with status 8 and the seed"; pass=$((pass + 1))
else echo "FAIL: too few kills gave status $rc: $(tail -n2 "$tmp/stderr")"; fail=$((fail + 1)); fi
one_kill=$'VSMMU-KILL-BACKEND\nVSMMU-GUEST: PASS'
rc=0; FAKE_BACKEND=$tmp FAKE_BACKEND_NO_RESTART=1 FAKE_CONSOLE=$one_kill \
    fake_boot --iommu vsmmu --quiet --kill-backend marker --no-restart > /dev/null || rc=$?
if [ "$rc" = 0 ]; then
    echo "PASS: --no-restart: one kill, the loss said once, no restart"; pass=$((pass + 1))
else echo "FAIL: --no-restart gave status $rc: $(tail -n2 "$tmp/stderr")"; fail=$((fail + 1)); fi
rc=0; FAKE_BACKEND=$tmp FAKE_CONSOLE=$one_kill fake_boot --iommu vsmmu --quiet --kill-backend marker --no-restart > /dev/null || rc=$?
if [ "$rc" = 8 ] && grep -q -- "--no-restart: 1 kills, 0 'lost the backend' lines, 1 restarts" "$tmp/stderr"; then
    echo "PASS: --no-restart fails (status 8) when QEMU restarted the backend"; pass=$((pass + 1))
else echo "FAIL: a restart under --no-restart gave status $rc: $(tail -n2 "$tmp/stderr")"; fail=$((fail + 1)); fi
for bad in "--kill-backend 0" "--kill-backend x" "--iommu builtin --kill-backend marker" "--kill-backend 1 --kill-seed x"; do
    rc=0
    # shellcheck disable=SC2086 # the options are words
    fake_boot --quiet $bad > /dev/null || rc=$?
    if [ "$rc" = 2 ]; then echo "PASS: '$bad' is a usage error"; pass=$((pass + 1))
    else echo "FAIL: '$bad' gave status $rc"; fail=$((fail + 1)); fi
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
