#!/usr/bin/env bash
# scripts/boot-guest --quiet-host fails (status 5) when QEMU writes to its
# stderr although the guest passed, and passes when the host stays quiet.
# A fake QEMU (scripts/tests/fake-qemu) prints the guest verdict, and with
# FAKE_NOISE set an error line on stderr.
set -euo pipefail
# shellcheck source=scripts/tests/fake-boot
source "$(dirname "$0")/fake-boot"
boot() { fake_boot --iommu none --quiet --quiet-host > /dev/null; }
pass=0 fail=0
rc=0; boot || rc=$?
if [ "$rc" = 0 ]; then echo "PASS: a quiet host passes"; pass=$((pass + 1))
else echo "FAIL: a quiet host gave status $rc: $(tail -n2 "$tmp/stderr")"; fail=$((fail + 1)); fi
rc=0; FAKE_NOISE=1 boot || rc=$?
if [ "$rc" = 5 ] && grep -q 'something went wrong' "$tmp/stderr"; then
    echo "PASS: a line on QEMU's stderr fails with status 5 and is shown"; pass=$((pass + 1))
else
    echo "FAIL: a noisy host gave status $rc: $(tail -n2 "$tmp/stderr")"; fail=$((fail + 1))
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
