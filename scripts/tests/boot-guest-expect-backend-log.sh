#!/usr/bin/env bash
# scripts/boot-guest --expect-backend-log ERE passes when a line of the
# runner-started backend's log matches ERE and fails with status 6 when
# none does. The backend is the real one (it logs "listening on PATH" at
# start); QEMU is the fake (scripts/tests/fake-qemu), which never connects.
set -euo pipefail
# shellcheck source=scripts/tests/fake-boot
source "$(dirname "$0")/fake-boot"
boot() { fake_boot --iommu vsmmu --quiet --expect-backend-log "$1" > /dev/null; }
pass=0 fail=0
rc=0; boot 'info .*listening on .*vsmmu' || rc=$?
if [ "$rc" = 0 ] && grep -q 'backend log: .*listening on' "$tmp/stderr"; then
    echo "PASS: a matching backend log line passes and is shown"; pass=$((pass + 1))
else echo "FAIL: a matching line gave status $rc: $(tail -n2 "$tmp/stderr")"; fail=$((fail + 1)); fi
rc=0; boot 'CDs\.2level64K=[1-9]' || rc=$?
if [ "$rc" = 6 ] && grep -q 'no line of .* matches' "$tmp/stderr"; then
    echo "PASS: no matching line fails with status 6"; pass=$((pass + 1))
else
    echo "FAIL: no matching line gave status $rc: $(tail -n2 "$tmp/stderr")"; fail=$((fail + 1))
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
