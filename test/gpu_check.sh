#!/usr/bin/env bash
# make gpu-check: the GPU suites on the GPU, then the kernel suites under compute-sanitizer's
# memcheck and racecheck. Without a usable GPU the runner says SKIP and this passes.
set -euo pipefail
runner=$1
sanitizer=${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer

out=$("$runner" | tee /dev/stderr)
if grep -q '^SKIP GPU suites' <<<"$out"; then
    exit 0
fi
if [ ! -x "$sanitizer" ]; then
    echo "SKIP compute-sanitizer: not found at $sanitizer"
    exit 0
fi
for tool in memcheck racecheck; do
    for suite in kernels network_kernels plus_kernels; do
        echo "compute-sanitizer --tool $tool: suite $suite"
        CK_FORK=no CK_RUN_SUITE=$suite "$sanitizer" --tool "$tool" --error-exitcode 1 "$runner"
    done
done
