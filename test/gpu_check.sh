#!/usr/bin/env bash
# make gpu-check: the GPU suites on the GPU, then the kernel suites under compute-sanitizer:
# synccheck (barriers and warp collectives), memcheck, racecheck, cheapest first. Every step
# runs whatever the earlier ones gave (a failing parity run must not hide the sanitizers'
# findings); the exit status is the first failure's. Without a usable GPU the runner says SKIP
# and this passes.
#   GPU_CHECK_SANITIZER_SECONDS: a time limit for each sanitizer run (default none), so that
#                                a short lease sees every tool on every suite, if not all of it
set -uo pipefail
runner=$1
sanitizer=${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer
limit=${GPU_CHECK_SANITIZER_SECONDS:-}
status=0

out=$("$runner" | tee /dev/stderr)
runner_status=$?
if grep -q '^SKIP GPU suites' <<<"$out"; then
    exit "$runner_status"
fi
if [ "$runner_status" -ne 0 ]; then
    status=$runner_status
    echo "gpu-check: the GPU suites failed ($runner_status)"
fi
if [ ! -x "$sanitizer" ]; then
    echo "SKIP compute-sanitizer: not found at $sanitizer"
    exit "$status"
fi
for tool in synccheck memcheck racecheck; do
    for suite in kernels network_kernels plus_kernels; do
        echo "compute-sanitizer --tool $tool: suite $suite${limit:+ (limit $limit s)}"
        CK_RUN_SUITE=$suite ${limit:+timeout "$limit"} \
            "$sanitizer" --tool "$tool" --error-exitcode 1 "$runner"
        rc=$?
        case $rc in
        0) ;;
        124) echo "compute-sanitizer --tool $tool: suite $suite: stopped at the $limit s limit" ;;
        *) echo "compute-sanitizer --tool $tool: suite $suite: FAILED ($rc)"
           [ "$status" -eq 0 ] && status=$rc ;;
        esac
    done
done
exit "$status"
