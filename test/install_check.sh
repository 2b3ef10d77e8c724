#!/bin/sh
# Install into a temporary prefix, then build the README's API example against the installed
# tree with pkg-config, once shared and once static, and run both on the bundled image.
set -eu
top=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
make -s install PREFIX="$tmp/prefix" >/dev/null
# The example is the C block between the api-example markers of the README.
sed -n '/<!-- api-example -->/,/<!-- \/api-example -->/p' README.md | sed '1,2d;$d' | sed '$d' \
    > "$tmp/example.c"
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
cc -std=c99 -Wall -Wextra -Werror -o "$tmp/example-shared" "$tmp/example.c" \
    $(pkg-config --cflags --libs yolact)
# -l:libyolact.a picks the archive although the shared library sits beside it.
cc -std=c99 -Wall -Wextra -Werror -o "$tmp/example-static" "$tmp/example.c" \
    $(pkg-config --cflags yolact) $(pkg-config --static --libs yolact | sed 's/-lyolact/-l:libyolact.a/')
weights="$top/test/data/parity/yolact_tiny_seed1_fp16_zip.pth"
image="$top/test/data/parity/coffee.png"
LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/example-shared" "$weights" "$image" > "$tmp/shared.txt"
"$tmp/example-static" "$weights" "$image" > "$tmp/static.txt"
# The shared build really uses the installed shared library; the static one does not.
LD_LIBRARY_PATH="$tmp/prefix/lib" ldd "$tmp/example-shared" | grep -q "$tmp/prefix/lib/libyolact.so"
! ldd "$tmp/example-static" | grep -q libyolact
cmp "$tmp/shared.txt" "$tmp/static.txt"
grep -q "detections" "$tmp/shared.txt"
cat "$tmp/shared.txt"
