# vSMMU: the README's two commands are `make run` and `make test`.
# Heavy artefacts (QEMU, guest kernel, initramfs) are cached under
# $(VSMMU_CACHE) (default ~/.cache/vsmmu), keyed by their inputs.
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -euo pipefail -c

SWIFT_RELEASE := swift build -c release
BOOT := scripts/boot-guest

.PHONY: all build run test test-unit test-sanitizers test-fuzz test-scripts test-qtest test-guest fuzz bench bench-model bench-socket bench-guest qemu kernel sva-kernel initramfs clean

all: build

build:
	$(SWIFT_RELEASE) --product vsmmu

qemu:
	scripts/build-qemu.sh

kernel:
	scripts/fetch-kernel.sh

initramfs:
	scripts/build-initramfs.sh

# The SVA kernel (Debian's linux-source-6.12 with guest/kernel/sva.config)
# and the SVA test driver built against it (docs/sva.md).
sva-kernel:
	scripts/build-sva-guest.sh

# Main job: build everything, boot the Linux guest against the vsmmu backend,
# print the SMMU probe lines and the DMA check.
run: build qemu kernel initramfs
	$(BOOT) --iommu vsmmu --append "vsmmu.test=smmu-probe,dma-integrity"

# Every test: unit and socket tests, the same under the thread and address
# sanitizers, the scripts' own tests, the QEMU series' qtest, then the guest
# suite.
test: test-unit test-sanitizers test-fuzz test-scripts test-qtest test-guest

test-unit:
	swift build --build-tests
	swift test

# The Swift tests under TSan and ASan (with leak checks); any report fails.
test-sanitizers:
	scripts/test-sanitizers

# Short runs of the libFuzzer harnesses (the model: 200000 inputs; the
# backend's wire messages: 50000); `make fuzz` is the soak (10 million and
# 2 million).
test-fuzz:
	scripts/fuzz
	scripts/fuzz --target wire --runs 50000

fuzz:
	scripts/fuzz --runs 10000000
	scripts/fuzz --target wire --runs 2000000

# The runner scripts' tests (no QEMU or guest needed: fakes stand in).
test-scripts:
	for t in scripts/tests/*.sh; do bash "$$t"; done

# The series' qtest (no guest kernel) against the patched QEMU and the backend.
test-qtest: build qemu
	scripts/qemu-qtest

test-guest: build qemu kernel initramfs sva-kernel
	scripts/guest-suite

bench: bench-model bench-socket bench-guest

bench-guest: build qemu kernel initramfs
	scripts/bench-guest

bench-model bench-socket:
	$(SWIFT_RELEASE) --product vsmmu-bench
	"$$(swift build -c release --show-bin-path)/vsmmu-bench" $(if $(filter bench-model,$@),model,socket)
	$(if $(filter bench-socket,$@),"$$(swift build -c release --show-bin-path)/vsmmu-bench" sync)

clean:
	rm -rf .build
