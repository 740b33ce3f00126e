#!/usr/bin/env bash
# The test endpoint's register map has one definition:
# guest/include/vsmmu-testdev-regs.h. The QEMU series must carry it
# verbatim as include/hw/misc/vsmmu-testdev-regs.h (the device includes
# it; the guest programs include the repo's copy).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
want="$root/guest/include/vsmmu-testdev-regs.h"
got=$(mktemp); trap 'rm -f "$got"' EXIT
# The file as the series creates it: the '+' lines of its new-file diff.
awk '
    /^diff --git / { infile = ($0 ~ /\/include\/hw\/misc\/vsmmu-testdev-regs\.h$/); inhunk = 0; next }
    infile && /^@@ / { inhunk = 1; next }
    infile && inhunk && /^\+/ { print substr($0, 2) }
' "$root"/qemu-patches/*.patch > "$got"
if [ ! -s "$got" ]; then
    echo "FAIL testdev-regs-identical: no include/hw/misc/vsmmu-testdev-regs.h in qemu-patches/" >&2
    exit 1
fi
if ! diff -u "$want" "$got" >&2; then
    echo "FAIL testdev-regs-identical: the series' copy differs from guest/include/vsmmu-testdev-regs.h" >&2
    exit 1
fi
echo "PASS testdev-regs-identical"
