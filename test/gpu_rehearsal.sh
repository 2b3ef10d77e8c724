#!/usr/bin/env bash
# A rehearsal, on this machine and without a GPU, of the lent GPU machine's one call
# (test/gpu_session.sh), so that a change which would break it there fails here first. The
# stand-in differs from this machine where the lent one does:
#  - another Debian release's root file system (trixie: glibc 2.41, zlib 1.3), entered with
#    chroot in namespaces of its own (no network inside), with a C and C++ compiler but none of
#    the -dev packages, Check, pkg-config or make that the session carries;
#  - the CUDA toolkit at /opt/nvidia/cuda-13.0, not /usr/local/cuda, with nvcc on PATH and
#    without cuDNN;
#  - cuDNN only as the pip wheel nvidia-cudnn-cu13, in a virtual environment (/opt/torch/.venv);
#  - no NVIDIA driver;
#  - what a device call carries and nothing else: the repository's tracked files (and untracked
#    ones git does not ignore) and .gpu-deps (`make gpu-deps` first), at most 64 MiB in all.
# There it runs test/gpu_session.sh as README.md tells a user with a GPU to, and requires the
# outcome a machine without a driver must give: the build passed with the CUDA backend, from
# the carried packages, and the session stopped at "no usable GPU" with exit status 2, its
# summary.txt saying so. Needs root (chroot, mount), debootstrap, and Debian's and PyPI's
# registries the first time.
#   GPU_REHEARSAL_DIR: where the stand-in is kept between runs (default
#                      /var/tmp/libyolact-gpu-rehearsal); the session's files land in its out/
#   GPU_REHEARSAL_RELEASE: the Debian release of the stand-in's root (default trixie)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${GPU_REHEARSAL_DIR:-/var/tmp/libyolact-gpu-rehearsal}
release=${GPU_REHEARSAL_RELEASE:-trixie}
base=$dir/base-$release   # the release with its compiler and the cuDNN wheel, made once
root=$dir/root            # a fresh copy of it for each run
toolkit=${CUDA_HOME:-/usr/local/cuda}
fail() {
    echo "gpu-rehearsal: FAILED: $*" >&2
    exit 1
}
[ -d .gpu-deps ] || fail "no .gpu-deps here: run make gpu-deps (or make gpu-rehearsal)"
mkdir -p "$dir"

if [ ! -f "$base/.complete" ]; then
    echo "gpu-rehearsal: making the $release root (once; kept in $base)"
    command -v debootstrap >/dev/null || fail "debootstrap is missing: apt-get install debootstrap"
    rm -rf "$base"
    debootstrap --variant=minbase --include=gcc,g++,libc6-dev,python3-venv "$release" "$base" \
        >"$dir/debootstrap.log" 2>&1 || fail "debootstrap $release (log: $dir/debootstrap.log)"
    # The wheel is fetched out here and installed inside, where there is no network.
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$base/wheels" \
        nvidia-cudnn-cu13
    chroot "$base" /bin/sh -c 'python3 -m venv /opt/torch/.venv &&
        /opt/torch/.venv/bin/pip install --quiet --no-deps --no-index /wheels/*.whl' ||
        fail "installing the cuDNN wheel into the stand-in's virtual environment"
    rm -rf "$base/wheels"
    touch "$base/.complete"
fi

echo "gpu-rehearsal: a fresh stand-in in $root"
rm -rf "$root" "$dir/out"
cp -a "$base" "$root"
# The toolkit, less cuDNN, at another path: hard links where the file system allows (the
# stand-in never writes to it), else a copy.
mkdir -p "$root/opt/nvidia"
cp -al "$(readlink -f "$toolkit")/." "$root/opt/nvidia/cuda-13.0" 2>/dev/null ||
    cp -a "$(readlink -f "$toolkit")/." "$root/opt/nvidia/cuda-13.0"
find "$root/opt/nvidia/cuda-13.0/" -name '*cudnn*' -prune -exec rm -rf {} +
# What a device call carries.
mkdir -p "$root/work/repo" "$root/out" "$dir/out"
{ git ls-files -z --cached --others --exclude-standard; find .gpu-deps -type f -print0; } |
    tar --null -T - -cf - | tar -xf - -C "$root/work/repo"
carried=$(du -sm "$root/work/repo" | cut -f1)
[ "$carried" -le 64 ] || fail "the repository and .gpu-deps take $carried MiB: over a call's 64"
echo "gpu-rehearsal: carried $carried MiB"

# The session, as README.md says to run it, in its own mount, PID and network namespaces.
set +e
unshare --mount --net --pid --fork --mount-proc="$root/proc" /bin/sh -c '
    mount --bind /dev "$1/dev" && mount --bind "$2" "$1/out" || exit 90
    exec chroot "$1" /usr/bin/env -i HOME=/root OUT=/out LANG=C.UTF-8 \
        PATH=/opt/torch/.venv/bin:/opt/nvidia/cuda-13.0/bin:/usr/local/bin:/usr/bin:/bin \
        /bin/bash -c "cd /work/repo && test/gpu_session.sh"' sh "$root" "$dir/out"
rc=$?
set -e

# What a machine without a driver must give.
summary=$dir/out/summary.txt
[ -f "$summary" ] || fail "the session left no summary.txt (exit $rc)"
grep -q '^build: exit 0 ' "$summary" || fail "the build failed: $dir/out/build.log"
grep -q 'CUDA backend yes' "$dir/out/build.log" || fail "the build has no CUDA backend"
grep -q '^build libraries: the carried Debian packages' "$summary" ||
    fail "the build did not use the carried packages"
grep -q '^cuDNN headers: /opt/torch/.venv/.*nvidia/cudnn; library: .*libcudnn.so.9' "$summary" ||
    fail "the session did not find the wheel's cuDNN"
grep -q 'SKIP GPU suites: no usable GPU' "$summary" || fail "no 'no usable GPU' in the summary"
[ "$rc" -eq 2 ] || fail "the session exited $rc, not 2 (no usable GPU)"
echo "gpu-rehearsal: passed: built with the CUDA backend in the $release stand-in; the session" \
     "stopped at 'no usable GPU' with exit 2 (files in $dir/out)"
