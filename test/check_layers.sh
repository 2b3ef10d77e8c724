#!/usr/bin/env bash
# The layering rule of DESIGN.md, checked over every #include "..." of the shipped code: a
# file includes headers of its own layer or of layers below it, the backends do not reach
# into each other, and the examples use the public API only. Run by `make test`; prints each
# breach as FILE:LINE and exits 1 if there is any.
#   layer 0  include/ (the public API); test/emu/ (the CUDA runtime's stand-in)
#         1  lib/ops/, lib/status, lib/input_limits, lib/version: what every layer shares;
#            lib/train/: training's host-side math (losses, prior matching, the optimizer)
#         2  lib/weights/, lib/image/, lib/rle: file formats
#         3  lib/model/: the network described once
#         4  lib/backend.h, lib/profile: the interface the backends implement
#         5  lib/cpu/, lib/cuda/, kernels/: the backends, peers (lib/cuda/ may include the
#            kernels' launchers; the emulated cuDNN is the CPU's convolution by design)
#         6  lib/session.c: the API's implementation, which reaches the backends through
#            backend.h only
#         7  examples/ (the public API only), bench/ (tools and bench/support/, may use any layer)
set -uo pipefail
cd "$(dirname "$0")/.."

# layer PATH: "LAYER NAME" of a file of the tree, or nothing for a file outside the rule.
layer() {
    case $1 in
    include/*|test/emu/*) echo "0 api" ;;
    lib/ops/*|lib/status.*|lib/input_limits.*|lib/version.*) echo "1 base" ;;
    lib/train/*) echo "1 train" ;;
    lib/weights/*|lib/image/*|lib/rle.*) echo "2 formats" ;;
    lib/model/*) echo "3 model" ;;
    lib/backend.h|lib/profile.*) echo "4 interface" ;;
    lib/cpu/*) echo "5 cpu" ;;
    lib/cuda/*) echo "5 cuda" ;;
    kernels/*) echo "5 kernels" ;;
    lib/*) echo "6 session" ;;
    examples/*) echo "7 examples" ;;
    bench/*) echo "7 tools" ;;
    esac
}

# resolve FILE HEADER: the path the compiler finds (its own folder, then the -I folders).
resolve() {
    local dir
    for dir in "$(dirname "$1")" include lib kernels test/emu; do
        [ -f "$dir/$2" ] && { realpath --relative-to=. "$dir/$2"; return; }
    done
}

breaches=0
while IFS= read -r file; do
    read -r own own_name <<<"$(layer "$file")"
    [ -n "$own" ] || continue
    while IFS=: read -r line header; do
        target=$(resolve "$file" "$header")
        [ -n "$target" ] || continue
        read -r their their_name <<<"$(layer "$target")"
        why=
        if [ "$their" -gt "$own" ]; then
            why="layer $their ($their_name) is above $own_name's $own"
        elif [ "$own_name" = examples ] && [ "$their_name" != api ] &&
             [ "$their_name" != examples ]; then
            why="an example uses the public API only"
        elif [ "$own_name" = session ] && [ "$their" -eq 5 ]; then
            why="the API reaches the backends through backend.h only"
        elif [ "$own" -eq 5 ] && [ "$their" -eq 5 ] && [ "$their_name" != "$own_name" ]; then
            case $own_name:$their_name:$file in
            cuda:kernels:*|cuda:cpu:lib/cuda/dnn_emulated.c) ;;
            *) why="the backends $own_name and $their_name are peers" ;;
            esac
        fi
        if [ -n "$why" ]; then
            echo "$file:$line: includes $target: $why"
            breaches=$((breaches + 1))
        fi
    done < <(grep -n '^ *# *include "' "$file" | sed 's/^\([0-9]*\):.*include "\([^"]*\)".*/\1:\2/')
done < <({ git ls-files --cached --others --exclude-standard include lib kernels examples bench \
             2>/dev/null || find include lib kernels examples bench -type f; } |
         grep -E '\.(c|h|cu|cuh|cc)$')

if [ "$breaches" -gt 0 ]; then
    echo "check-layers: $breaches includes break the layering (test/check_layers.sh)"
    exit 1
fi
echo "check-layers: every include of the shipped code keeps to its layer"
