#!/usr/bin/env bash
# scripts/boot-guest --quiet-host fails (status 5) when QEMU writes to its
# stderr although the guest passed, and passes when the host stays quiet.
# A fake QEMU (scripts/tests/fake-qemu) prints the guest verdict, and with
# FAKE_NOISE set an error line on stderr.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

: > "$tmp/kernel"; : > "$tmp/initrd"
boot() {
    QEMU="$root/scripts/tests/fake-qemu" VSMMU_CACHE="$tmp/cache" "$root/scripts/boot-guest" \
        --kernel "$tmp/kernel" --initrd "$tmp/initrd" --iommu none --timeout 20 \
        --quiet --quiet-host > /dev/null 2> "$tmp/stderr"
}
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
