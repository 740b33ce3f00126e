#!/usr/bin/env bash
# scripts/boot-guest --quiet-host fails (status 5) when QEMU writes to its
# stderr although the guest passed, and passes when the host stays quiet.
# A fake QEMU (the QEMU= override) prints the guest verdict, and with
# FAKE_NOISE set a warning on stderr as QEMU's error_report would.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat > "$tmp/fake-qemu" <<'FAKE'
#!/usr/bin/env bash
for a in "$@"; do
    case "$a" in *logfile=*) log=${a##*logfile=}; log=${log%%,*} ;; esac
done
echo "VSMMU-GUEST: PASS" | tee -a "$log"
[ -z "${FAKE_NOISE:-}" ] || echo "qemu-system-aarch64: vsmmu: something went wrong" >&2
exit 0
FAKE
chmod +x "$tmp/fake-qemu"
: > "$tmp/kernel"; : > "$tmp/initrd"
boot() {
    QEMU="$tmp/fake-qemu" VSMMU_CACHE="$tmp/cache" "$root/scripts/boot-guest" \
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
