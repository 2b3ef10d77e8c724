#!/bin/sh
# The README's install and build commands, run as written: install into $HOME/.local (HOME
# is a temporary directory here), build the README's API example against the installed tree
# with pkg-config, shared and static, and run both on the bundled image with no
# LD_LIBRARY_PATH.
set -eu
top=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset LD_LIBRARY_PATH PKG_CONFIG_PATH
# The text between the README's <!-- NAME --> and <!-- /NAME --> markers, less the markers
# and any code fence.
readme_block() {
    sed -n "/^<!-- $1 -->\$/,/^<!-- \/$1 -->\$/p" "$top/README.md" | sed '1d;$d' | sed '/^```/d'
}
readme_block install > "$tmp/install.sh"
readme_block build-app > "$tmp/build-app.sh"
readme_block api-example > "$tmp/app.c"
for f in install.sh build-app.sh app.c; do
    [ -s "$tmp/$f" ] || { echo "install_check: no $f block in README.md" >&2; exit 1; }
done
export HOME="$tmp/home"
mkdir -p "$HOME" "$tmp/app"
sh -eu "$tmp/install.sh" > "$tmp/install.log"
(cd "$tmp/app" && cp "$tmp/app.c" . && sh -eu "$tmp/build-app.sh")
weights="$top/test/data/parity/yolact_tiny_seed1_fp16_zip.pth"
image="$top/test/data/parity/coffee.png"
"$tmp/app/app" "$weights" "$image" > "$tmp/shared.txt"
"$tmp/app/app-static" "$weights" "$image" > "$tmp/static.txt"
# The shared build really uses the installed shared library; the static one does not.
ldd "$tmp/app/app" | grep -q "$HOME/.local/lib/libyolact.so"
! ldd "$tmp/app/app-static" | grep -q libyolact
cmp "$tmp/shared.txt" "$tmp/static.txt"
grep -q "detections" "$tmp/shared.txt"
cat "$tmp/shared.txt"
