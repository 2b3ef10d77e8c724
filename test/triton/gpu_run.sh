#!/usr/bin/env bash
# test/gpu_session.sh's Triton stage on a lent GPU: unpack the server carried in
# .gpu-deps/triton-server.tar.xz (make triton-gpu-deps), build the backend with the session's
# make arguments, and run test/triton/gpu_check.py against a KIND_GPU instance.
#   usage: test/triton/gpu_run.sh BUILD MAKE_ARGUMENTS...
set -euo pipefail
build=$1
shift
root=/tmp/gpu-session-triton
rm -rf "$root" && mkdir -p "$root"
tar xJf .gpu-deps/triton-server.tar.xz -C "$root"
make "$@" triton
python3 test/triton/gpu_check.py --build "$build" \
    --tritonserver "$root/pytriton/tritonserver/bin/tritonserver"
