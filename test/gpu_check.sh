#!/usr/bin/env bash
# make gpu-check: the GPU runner's steps, in the order of what they prove, each run whatever
# the earlier ones gave (a failing parity run must not hide the sanitizers' findings); the
# exit status is the first failure's. Without a usable GPU the runner says SKIP and this
# passes.
#   test/gpu_check.sh RUNNER [STEP...]   steps (default all but device, in this order):
#     device      nothing beyond what every call does first: the runner's own check, and
#                 whether there is a usable GPU at all
#     parity      the CUDA parity runs, FP32 and FP16, YOLACT and YOLACT++
#     suites      the kernel suites (ops: the op-test table), the CUDA backend's, the
#                 CUDA threads case and the CUDA training pass's parity steps
#     sanitizers  the kernel suites under compute-sanitizer synccheck (barriers and warp
#                 collectives), memcheck and racecheck, cheapest first
#   GPU_CHECK_SANITIZER_SECONDS: a time limit for each sanitizer run (default none), so that
#                                a short lease sees every tool on every suite, if not all of it
set -uo pipefail
runner=$1
shift
steps=${*:-parity suites sanitizers}
sanitizer=${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer
[ -x "$sanitizer" ] || sanitizer=$(command -v compute-sanitizer || echo "$sanitizer")
limit=${GPU_CHECK_SANITIZER_SECONDS:-}
kernel_suites="ops kernels plus_kernels"
status=0

# run WHAT SUITE CASE [PREFIX...]: one suite of the runner (one case of it, unless CASE is
# empty), under PREFIX; a failure noted.
run() {
    local what=$1 suite=$2 case=$3
    shift 3
    echo "== $what"
    env CK_RUN_SUITE="$suite" ${case:+CK_RUN_CASE="$case"} ${limit:+timeout "$limit"} "$@" "$runner"
    local rc=$?
    case $rc in
    0) ;;
    124) echo "$what: stopped at the $limit s limit" ;;
    *) echo "$what: FAILED ($rc)"
       [ "$status" -eq 0 ] && status=$rc ;;
    esac
}

# The runner's own check (it never forks) first, and whether there is a GPU at all.
out=$(CK_RUN_SUITE=gpu_runner "$runner" 2>&1)
runner_status=$?
echo "$out"
if grep -q '^SKIP GPU suites' <<<"$out"; then
    exit "$runner_status"
fi
[ "$runner_status" -ne 0 ] && status=$runner_status

for step in $steps; do
    case $step in
    device) ;;
    parity)
        limit='' run "parity (CUDA runs)" parity cuda ;;
    suites)
        for suite in $kernel_suites cuda_backend; do limit='' run "suite $suite" "$suite" ''; done
        limit='' run "suite threads (CUDA)" threads cuda_threads
        limit='' run "suite trainer (CUDA training steps)" trainer cuda_steps
        limit='' run "suite trainer (CUDA FP16 training steps)" trainer cuda_fp16 ;;
    sanitizers)
        if [ ! -x "$sanitizer" ]; then
            echo "SKIP compute-sanitizer: not found at $sanitizer nor on PATH"
            continue
        fi
        for tool in synccheck memcheck racecheck; do
            for suite in $kernel_suites; do
                run "compute-sanitizer --tool $tool: suite $suite${limit:+ (limit $limit s)}" \
                    "$suite" '' "$sanitizer" --tool "$tool" --error-exitcode 1
            done
        done ;;
    *)
        echo "gpu-check: unknown step '$step' (device, parity, suites, sanitizers)"
        exit 2 ;;
    esac
done
exit "$status"
