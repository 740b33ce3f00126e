#!/usr/bin/env bash
# The test devices' register maps have one definition each, in
# guest/include/: vsmmu-testdev-regs.h (the PCIe endpoint) and
# vsmmu-stall-testdev-regs.h (the platform master that stalls). The QEMU
# series must carry each verbatim under include/hw/misc/ (the devices
# include them; guest code includes the repo's copies).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
got=$(mktemp); trap 'rm -f "$got"' EXIT
status=0
for name in vsmmu-testdev-regs.h vsmmu-stall-testdev-regs.h; do
    want="$root/guest/include/$name"
    # The file as the series creates it: the '+' lines of its new-file diff.
    awk -v path="include/hw/misc/$name" '
        /^diff --git / { infile = (substr($0, length($0) - length(path) + 1) == path); inhunk = 0; next }
        infile && /^@@ / { inhunk = 1; next }
        infile && inhunk && /^\+/ { print substr($0, 2) }
    ' "$root"/qemu-patches/*.patch > "$got"
    if [ ! -s "$got" ]; then
        echo "FAIL testdev-regs-identical: no include/hw/misc/$name in qemu-patches/" >&2
        status=1
    elif ! diff -u "$want" "$got" >&2; then
        echo "FAIL testdev-regs-identical: the series' copy differs from guest/include/$name" >&2
        status=1
    fi
done
[ "$status" = 0 ] && echo "PASS testdev-regs-identical"
exit "$status"
