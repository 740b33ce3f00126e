#!/usr/bin/env bash
# scripts/build-kernel.sh stops when Kconfig silently dropped an option of
# the SVA fragment (a dependency not met, a renamed option), and names it,
# instead of building a kernel without SVA. --check-config runs that check
# alone on a configuration file.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fragment="$root/guest/kernel/sva.config"
pass=0 fail=0
ok() { echo "PASS: $1"; pass=$((pass + 1)); }
ko() { echo "FAIL: $1"; fail=$((fail + 1)); }

# A configuration with every option of the fragment (and more) passes.
{ echo "CONFIG_ARM64=y"; grep '^CONFIG_' "$fragment"; } > "$tmp/full"
if VSMMU_CACHE="$tmp/cache" bash "$root/scripts/build-kernel.sh" --check-config "$tmp/full" 2> "$tmp/err"; then
    ok "a configuration holding the fragment passes"
else
    ko "a configuration holding the fragment is refused: $(cat "$tmp/err")"
fi

# One that lost ARM_SMMU_V3_SVA (e.g. "# CONFIG_ARM_SMMU_V3_SVA is not set")
# fails and names it.
grep -v '^CONFIG_ARM_SMMU_V3_SVA=' "$tmp/full" > "$tmp/lost"
echo "# CONFIG_ARM_SMMU_V3_SVA is not set" >> "$tmp/lost"
if VSMMU_CACHE="$tmp/cache" bash "$root/scripts/build-kernel.sh" --check-config "$tmp/lost" 2> "$tmp/err"; then
    ko "a configuration without ARM_SMMU_V3_SVA passes"
elif grep -q 'CONFIG_ARM_SMMU_V3_SVA=y' "$tmp/err"; then
    ok "a dropped option stops the build and is named"
else
    ko "the error does not name the dropped option: $(cat "$tmp/err")"
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
