#!/usr/bin/env bash
# A lent GPU's work in one command, from the repository root on the device machine, with
# .gpu-deps carried (`make gpu-deps` here) and, for the comparison with the official code,
# .official (bench/README.md). The stages run most valuable first, each under a time limit,
# each one's log written to $OUT as it runs, so a call cut short still brings back what ran:
#   build       libyolact with the CUDA backend (CUDA=1: a build without it fails the
#               session), the GPU runner and yolact-bench, for sm_90
#   device      make gpu-check's first step: is the GPU usable (and the runner's own check
#               that it never forks)?
#   parity      the CUDA parity runs: FP32 and FP16, YOLACT and YOLACT++ (make gpu-check)
#   suites      the kernel suites, the CUDA backend's and the CUDA threads case
#   bench       make gpu-bench: yolact_base and yolact_resnet50 at 550, FP32 and FP16,
#               batches 1, 8, 32; our head convolutions against cuDNN
#   sanitizers  the kernel suites under compute-sanitizer, each run at most 10 s
#   compare     make gpu-compare: side by side with the official code, when .official is here
#   train       a training step of yolact_resnet50 (batch 8) on the GPU: the library's trainer
#               beside the official step (bench/train_compare --device cuda; libyolact alone
#               without .official or a PyTorch that sees the GPU)
#   train-fp16  the library's trainer step in FP16 mixed precision beside its FP32 step, the
#               two alternated in one stage (yolact_resnet50, batch 8)
#   triton      the Triton backend on a KIND_GPU instance (test/triton/gpu_run.sh), when the
#               server was carried (make triton-gpu-deps) and the machine has python3
# Every stage's outcome and time go to $OUT/summary.txt, printed last; the bench's JSON files
# are gathered into $OUT/results.json (at most 8 files come back from a call: these are 8).
# Exit status: 0 every stage ran and passed; 1 a stage failed (the build or the set-up: none
# after it ran); 2 no usable GPU (the build passed; nothing ran on a GPU: the summary says why).
#   GPU_SESSION_STAGES: the stages to run (default all of the above)
#   GPU_SESSION_SECONDS: the whole session's limit (default 530, under a call's 10 minutes)
#   GPU_SESSION_USE_DEBS=1: build with the carried packages even where the image has the
#                           libraries (to try that path on a machine that has them)
#   CUDA_HOME: the toolkit (default: the one of the nvcc on PATH, else /usr/local/cuda)
#   CUDNN_HOME: cuDNN's folder with include/ (default: the toolkit's, else a pip wheel's)
#   BUILD, CUDA_ARCH: passed to make (default build, 90)
set -uo pipefail
out=${OUT:-/tmp/gpu-session}
mkdir -p "$out"
stages=${GPU_SESSION_STAGES:-build device parity suites bench sanitizers compare train train-fp16 triton}
deadline=$((SECONDS + ${GPU_SESSION_SECONDS:-530}))
summary="$out/summary.txt"
: >"$summary"
note() { echo "$*" | tee -a "$summary"; }
fail() {
    note "FAILED: $*"
    exit 1
}

note "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(date -u +%FT%TZ)"
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem \
        --format=csv,noheader | while read -r line; do note "gpu: $line"; done
else
    note "gpu: no nvidia-smi on PATH"
fi

# ---- what the build needs ------------------------------------------------------------------
# Libraries the image lacks: from the carried Debian packages, unpacked into a private root
# (unpacking into / could break the image), found through pkg-config's sysroot.
pkg_config=pkg-config
if [ -n "${GPU_SESSION_USE_DEBS:-}" ] || ! pkg-config --exists libpng zlib check 2>/dev/null; then
    root=$PWD/.gpu-deps/root
    ls .gpu-deps/*.deb >/dev/null 2>&1 ||
        fail "the image lacks libpng, zlib or Check and no .gpu-deps was carried (make gpu-deps)"
    for deb in .gpu-deps/*.deb; do dpkg -x "$deb" "$root" || fail "cannot unpack $deb"; done
    # A package's absolute link means the build machine's root (zlib1g-dev's libz.so ->
    # /lib/x86_64-linux-gnu/libz.so.1.2.13): here that is the private root. Left as it is, it
    # dangles or names the image's file, and the linker silently takes another library.
    while IFS= read -r link; do
        ln -sfn "$root$(readlink "$link")" "$link"
    done < <(find "$root" -type l -lname '/*')
    dangling=$(find "$root/usr/lib" "$root/usr/bin" "$root/usr/include" -xtype l)
    [ -z "$dangling" ] || fail "links of the carried packages lead nowhere: $dangling"
    export PKG_CONFIG_SYSROOT_DIR=$root
    # Debian's compiler searches /usr/include/x86_64-linux-gnu unasked, where libjpeg's
    # jconfig.h is, so libjpeg.pc does not name it; here the compiler needs telling.
    export CPATH=$root/usr/include/x86_64-linux-gnu:$root/usr/include${CPATH:+:$CPATH}
    export PKG_CONFIG_LIBDIR=$root/usr/lib/x86_64-linux-gnu/pkgconfig:$root/usr/share/pkgconfig
    export LD_LIBRARY_PATH=$root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    command -v pkg-config >/dev/null || pkg_config=$root/usr/bin/pkgconf
    command -v make >/dev/null || export PATH=$PATH:$root/usr/bin
    note "build libraries: the carried Debian packages ($root)"
fi

# The toolkit: CUDA_HOME, else the one of the nvcc on PATH, else /usr/local/cuda; the first
# that has what the build takes from it.
candidates=("${CUDA_HOME:-}" /usr/local/cuda)
command -v nvcc >/dev/null &&
    candidates=("${CUDA_HOME:-}" "$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")"
                /usr/local/cuda)
cuda_home=
for home in "${candidates[@]}"; do
    [ -n "$home" ] && [ -x "$home/bin/nvcc" ] && [ -f "$home/include/cuda_runtime.h" ] &&
        [ -f "$home/lib64/libcudart_static.a" ] && { cuda_home=$home; break; }
done
[ -n "$cuda_home" ] || fail "no CUDA toolkit with bin/nvcc, include/cuda_runtime.h and" \
    "lib64/libcudart_static.a in: ${candidates[*]} (set CUDA_HOME)"
export CUDA_HOME=$cuda_home
note "CUDA toolkit: $cuda_home ($("$cuda_home/bin/nvcc" --version | tail -n 1))"

# cuDNN: CUDNN_HOME, the toolkit's, a pip wheel's (nvidia/cudnn holds include/ and lib/), else
# the carried headers with whatever libcudnn.so.9 the machine has.
cudnn_home=${CUDNN_HOME:-$cuda_home}
if [ ! -f "$cudnn_home/include/cudnn.h" ]; then
    header=$(find /usr /opt -name cudnn.h -path '*cudnn*' 2>/dev/null | head -n 1)
    cudnn_home=${header:+$(dirname "$(dirname "$header")")}
    cudnn_home=${cudnn_home:-$PWD/.gpu-deps/cudnn}
fi
[ -f "$cudnn_home/include/cudnn.h" ] || fail "no cudnn.h anywhere, nor carried in .gpu-deps"
library=$(find "$cudnn_home" "$cuda_home/lib64/" /usr /opt -name 'libcudnn.so.9' 2>/dev/null |
          head -n 1)
[ -n "$library" ] &&
    export LD_LIBRARY_PATH=$(dirname "$library")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
note "cuDNN headers: $cudnn_home; library: ${library:-not found (every CUDA session will fail)}"

# ---- the stages ----------------------------------------------------------------------------
build=${BUILD:-build}
make_args=(-j"$(nproc)" BUILD="$build" CUDA=1 CUDA_HOME="$cuda_home" CUDA_ARCH="${CUDA_ARCH:-90}"
           CUDNN_HOME="$cudnn_home" PKG_CONFIG="$pkg_config")
results=/tmp/gpu-session-results # the bench's JSON files, gathered into $out/results.json
rm -rf "$results" && mkdir -p "$results"

# stage NAME SECONDS COMMAND...: run with a limit (cut to what is left of the session), the
# log to $OUT/NAME.log, the outcome noted; returns the command's status.
stage() {
    local name=$1 limit=$2
    shift 2
    case " $stages " in *" $name "*) ;; *) return 0 ;; esac
    local left=$((deadline - SECONDS))
    [ "$limit" -le "$left" ] || limit=$left
    if [ "$limit" -lt 10 ]; then
        note "$name: not run, the session's time is spent"
        return 0
    fi
    local start=$SECONDS
    timeout "$limit" "$@" >"$out/$name.log" 2>&1
    local rc=$?
    note "$name: exit $rc in $((SECONDS - start)) s (limit $limit s; log $name.log)"
    tail -n 5 "$out/$name.log" | sed 's/^/    /' | tee -a "$summary"
    return $rc
}

# Every JSON file the bench wrote, as one object keyed by file name.
gather_results() {
    local first=1
    {
        echo "{"
        for f in "$results"/*.json; do
            [ -f "$f" ] || continue
            [ $first -eq 1 ] || echo ","
            first=0
            printf '"%s": ' "$(basename "$f" .json)"
            cat "$f"
        done
        echo "}"
    } >"$out/results.json"
}

# A stage's log into the summary instead of a file of its own: a call brings back at most 8
# files, and summary.txt, results.json and the first six stages' logs are 8.
fold_log() {
    if [ -f "$out/$1.log" ]; then
        { echo "$1.log:"; sed 's/^/    /' "$out/$1.log"; } >>"$summary"
        rm -f "$out/$1.log"
    fi
}

status=0
stage build 150 make "${make_args[@]}" all "$build/yolact-gpu-tests" "$build/yolact-bench" ||
    fail "the build"

gpu_check=(make "${make_args[@]}" gpu-check)
case " $stages " in *" device "*)
    device=$(timeout 60 "${gpu_check[@]}" --silent GPU_CHECK_STEPS=device 2>&1)
    rc=$?
    echo "$device" | sed 's/^/    /' | tee -a "$summary"
    if grep -q '^SKIP GPU suites' <<<"$device"; then
        note "device: no usable GPU, so nothing was run on one"
        echo "== summary"
        cat "$summary"
        exit 2
    fi
    [ $rc -eq 0 ] || { note "device: the GPU runner's own check failed"; status=1; }
esac

stage parity 80 "${gpu_check[@]}" GPU_CHECK_STEPS=parity || status=1
stage suites 80 "${gpu_check[@]}" GPU_CHECK_STEPS=suites || status=1
stage bench 120 make "${make_args[@]}" gpu-bench GPU_RESULTS="$results" || status=1
gather_results
# The headline numbers in the summary, so the call's output carries them even if no file
# comes back: each network's table, and our head convolutions against cuDNN.
if [ -f "$out/bench.log" ]; then
    note "bench headlines:"
    awk '/^yolact-bench: / { print $2 ":" }
         /^cuda +fp[0-9]+ +[0-9]+ +[0-9]+ / { print }
         /^convolutions of our kernels/ { sub(/^convolutions of our kernels against cuDNN, /, "")
                                          at = $0 }
         /network total/ { n = split($0, f, / +/)
                           print "head convolutions " at " ours " f[n - 2] " ms, cuDNN " \
                                 f[n - 1] " ms, ours/cuDNN throughput " f[n] }' \
        "$out/bench.log" |
        sed 's/^/    /' | tee -a "$summary"
fi
stage sanitizers 100 "${gpu_check[@]}" GPU_CHECK_STEPS=sanitizers \
    GPU_CHECK_SANITIZER_SECONDS=10 || status=1
if [ -f .official/yolact/yolact.py ]; then
    stage compare 200 make "${make_args[@]}" gpu-compare GPU_RESULTS="$results" \
        YOLACT_DIR="$PWD/.official/yolact" || status=1
    gather_results
else
    note "compare: not run, no official checkout in .official/yolact (bench/README.md)"
fi
stage train 90 python3 bench/train_compare --device cuda --bench "$build/yolact-train-bench" \
    --yolact-dir "$PWD/.official/yolact" --python python3 --config yolact_resnet50 --batch 8 \
    --threads "$(nproc)" --warmup 2 --iters 5 \
    --json "$results/gpu-train-yolact_resnet50.json" || status=1
gather_results
fold_log train
# FP16 against FP32 on the same machine in one run: two rounds, the precisions alternated.
train_precisions='for round in 1 2; do for precision in fp32 fp16; do
    "$0" --backend cuda --precision $precision -c yolact_resnet50 --batch 8 --warmup 2 \
        --iters 5 --json "$1/gpu-train-$precision-round$round.json" || exit 1; done; done'
stage train-fp16 80 bash -c "$train_precisions" "$build/yolact-train-bench" "$results" ||
    status=1
gather_results
fold_log train-fp16
# Last: the Triton backend is the newest and least proven part, so it takes what time is left.
if [ -f .gpu-deps/triton-server.tar.xz ] && command -v python3 >/dev/null; then
    stage triton 150 test/triton/gpu_run.sh "$build" "${make_args[@]}" || status=1
    fold_log triton
else
    note "triton: not run, no server carried in .gpu-deps/triton-server.tar.xz (make" \
        "triton-gpu-deps) or no python3"
fi
echo "== summary"
cat "$summary"
exit $status
