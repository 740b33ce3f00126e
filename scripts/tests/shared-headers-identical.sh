#!/usr/bin/env bash
# Headers with one definition each, which the QEMU series must carry
# verbatim (the devices include them; the repo's copies are used by the
# backend, Swift and guest code):
#   CShims/include/vsmmu-protocol.h          include/hw/arm/vsmmu-protocol.h
#   guest/include/vsmmu-testdev-regs.h       include/hw/misc/...
#   guest/include/vsmmu-stall-testdev-regs.h include/hw/misc/...
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
got=$(mktemp); trap 'rm -f "$got"' EXIT
status=0
while read -r want path; do
    # The file as the series creates it: the '+' lines of its new-file diff.
    awk -v path="$path" '
        /^diff --git / { infile = (substr($0, length($0) - length(path) + 1) == path); inhunk = 0; next }
        infile && /^@@ / { inhunk = 1; next }
        infile && inhunk && /^\+/ { print substr($0, 2) }
    ' "$root"/qemu-patches/*.patch > "$got"
    if [ ! -s "$got" ]; then
        echo "FAIL shared-headers-identical: no $path in qemu-patches/" >&2
        status=1
    elif ! diff -u "$root/$want" "$got" >&2; then
        echo "FAIL shared-headers-identical: the series' $path differs from $want" >&2
        status=1
    fi
done <<'LIST'
CShims/include/vsmmu-protocol.h include/hw/arm/vsmmu-protocol.h
guest/include/vsmmu-testdev-regs.h include/hw/misc/vsmmu-testdev-regs.h
guest/include/vsmmu-stall-testdev-regs.h include/hw/misc/vsmmu-stall-testdev-regs.h
LIST
[ "$status" = 0 ] && echo "PASS shared-headers-identical"
exit "$status"
