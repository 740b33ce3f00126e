#!/usr/bin/env bash
# scripts/boot-guest must stream the console to the caller's stdout as it is,
# not reopen /dev/stdout: reopening a regular file truncates it, so
# `make run > run.log` kept only the part of the log written after QEMU
# started. A fake QEMU (scripts/tests/fake-qemu) prints console lines and
# the guest verdict; the caller's stdout is a file that already holds a line.
set -euo pipefail
# shellcheck source=scripts/tests/fake-boot
source "$(dirname "$0")/fake-boot"

out="$tmp/run.log"
echo "written before boot-guest" > "$out"
rc=0
FAKE_CONSOLE=$'console line one\nVSMMU-GUEST: PASS' fake_boot --iommu none >> "$out" || rc=$?

pass=0 fail=0
check() {
    if grep -qx "$2" "$out"; then
        echo "PASS: $1"; pass=$((pass + 1))
    else
        echo "FAIL: $1 (stdout file holds: $(tr '\n' '|' < "$out"))"; fail=$((fail + 1))
    fi
}
if [ "$rc" = 0 ]; then echo "PASS: exit status 0"; pass=$((pass + 1))
else echo "FAIL: exit status $rc: $(tail -n3 "$tmp/stderr")"; fail=$((fail + 1)); fi
check "output written before boot-guest is kept" "written before boot-guest"
check "console streamed to stdout" "console line one"
check "verdict streamed to stdout" "VSMMU-GUEST: PASS"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
