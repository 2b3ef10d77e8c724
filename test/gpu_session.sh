#!/usr/bin/env bash
# A lent GPU's work in one command, from the repository root on the device machine, with
# .gpu-deps carried (`make gpu-deps` here): build for the GPU, `make gpu-check` (the GPU
# suites, parity in FP32 and FP16, compute-sanitizer) and `make gpu-bench` (with the
# comparison against the official code when its checkout is carried in .official:
# bench/README.md). Each stage has a time limit so the whole fits one call; logs and results
# go to $OUT (at most 8 files come back: these are 7) and a summary is printed last.
#   GPU_SESSION_STAGES: the stages to run (default "build check bench")
#   GPU_SESSION_USE_DEBS=1: build with the carried packages even where the image has the
#                           libraries (to try that path on a machine that has them)
#   BUILD, CUDA_ARCH: passed to make (default build, 90)
set -uo pipefail
out=${OUT:-/tmp/gpu-session}
mkdir -p "$out"
stages=${GPU_SESSION_STAGES:-build check bench}
summary="$out/summary.txt"
: >"$summary"
note() { echo "$*" | tee -a "$summary"; }

note "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(date -u +%FT%TZ)"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv,noheader |
    while read -r line; do note "gpu: $line"; done

# Libraries the image lacks: from the carried Debian packages, unpacked into a private root
# (unpacking into / could break the image), found through pkg-config's sysroot.
pkg_config=pkg-config
if [ -n "${GPU_SESSION_USE_DEBS:-}" ] || ! pkg-config --exists libpng zlib check 2>/dev/null; then
    root=$PWD/.gpu-deps/root
    for deb in .gpu-deps/*.deb; do dpkg -x "$deb" "$root"; done
    export PKG_CONFIG_SYSROOT_DIR=$root
    export PKG_CONFIG_LIBDIR=$root/usr/lib/x86_64-linux-gnu/pkgconfig:$root/usr/share/pkgconfig
    export LD_LIBRARY_PATH=$root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    command -v pkg-config >/dev/null || pkg_config=$root/usr/bin/pkgconf
    command -v make >/dev/null || export PATH=$PATH:$root/usr/bin
    note "build libraries: the carried Debian packages ($root)"
fi

# cuDNN: the toolkit's, else a pip wheel's (nvidia/cudnn holds include/ and lib/), else the
# carried headers with whatever libcudnn.so.9 the machine has.
cuda_home=${CUDA_HOME:-/usr/local/cuda}
cudnn_home=$cuda_home
if [ ! -f "$cudnn_home/include/cudnn.h" ]; then
    header=$(find /usr /opt -name cudnn.h -path '*cudnn*' 2>/dev/null | head -n 1)
    cudnn_home=${header:+$(dirname "$(dirname "$header")")}
    cudnn_home=${cudnn_home:-$PWD/.gpu-deps/cudnn}
fi
library=$(find "$cuda_home/lib64" "$cudnn_home" /usr /opt -name 'libcudnn.so.9' 2>/dev/null | head -n 1)
[ -n "$library" ] && export LD_LIBRARY_PATH=$(dirname "$library")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
note "cuDNN headers: $cudnn_home; library: ${library:-not found}"

build=${BUILD:-build}
make_args=(-j"$(nproc)" BUILD="$build" CUDA_ARCH="${CUDA_ARCH:-90}"
           CUDNN_HOME="$cudnn_home" PKG_CONFIG="$pkg_config")
# stage NAME SECONDS COMMAND...: run with a limit, the log to $OUT/NAME.log, the outcome noted.
stage() {
    local name=$1 limit=$2
    shift 2
    case " $stages " in *" $name "*) ;; *) return 0 ;; esac
    local start=$SECONDS
    timeout "$limit" "$@" >"$out/$name.log" 2>&1
    local rc=$?
    note "$name: exit $rc in $((SECONDS - start)) s (limit $limit s; log $name.log)"
    tail -n 5 "$out/$name.log" | sed 's/^/    /' | tee -a "$summary"
    return $rc
}

# The limits add up to under the device call's 10 minutes.
stage build 200 make "${make_args[@]}" all "$build/yolact-gpu-tests" "$build/yolact-bench" || exit 1
# Each sanitizer run (3 tools x 3 suites) at most 15 s, so all of them start within the stage.
stage check 200 make "${make_args[@]}" gpu-check GPU_CHECK_SANITIZER_SECONDS=15
stage bench 180 make "${make_args[@]}" gpu-bench GPU_RESULTS="$out" YOLACT_DIR="$PWD/.official"
# The headline numbers, so the call's output carries them even if no file comes back: each
# run's summary row, and our head convolutions against cuDNN (--conv-shapes).
if [ -f "$out/bench.log" ]; then
    note "bench headlines:"
    awk '/^cuda +fp/ { print }
         /^convolutions of our kernels/ { sub(/^convolutions of our kernels against cuDNN, /, "")
                                          at = $0 }
         /network total/ { n = split($0, f, / +/)
                           print "head convolutions " at " ours " f[n - 2] " ms, cuDNN " \
                                 f[n - 1] " ms, ours/cuDNN throughput " f[n] }' \
        "$out/bench.log" |
        sed 's/^/    /' | tee -a "$summary"
fi
echo "== summary"
cat "$summary"
