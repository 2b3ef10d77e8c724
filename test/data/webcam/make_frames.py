#!/usr/bin/python3
"""Makes the webcam suite's frames from test/data/parity/coffee.png, standing in for a
camera recording (no camera was at hand): a slow pan over the picture, stored as a UVC
camera sends it. Run from the repository root; needs Pillow and NumPy.

  mjpeg_N.jpg   320x240 MJPEG buffers, 4:2:2 as UVC cameras encode; mjpeg_1 has its
                Huffman tables stripped, as many cameras send frames (the decoder must
                fall back to the standard tables)
  yuyv_N.raw    160x120 YUYV 4:2:2 buffers, BT.601 limited range, rows packed
  pan.y4m       the YUYV frames as a 4:2:0 YUV4MPEG2 file (--input)
"""
import numpy as np
from PIL import Image

SRC = "test/data/parity/coffee.png"
OUT = "test/data/webcam/"


def pan(size, count):
    """count crops of 4:3 that move right over the picture, scaled to size."""
    im = Image.open(SRC).convert("RGB")
    w, h = im.size
    cw, ch = h * 4 // 3, h
    for i in range(count):
        x = (w - cw) * i // max(count - 1, 1)
        yield np.asarray(im.crop((x, 0, x + cw, ch)).resize(size, Image.BILINEAR), np.float64)


def ycbcr(rgb):
    """BT.601 limited range."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    return [np.clip(np.rint(c), 0, 255).astype(np.uint8) for c in (y, u, v)]


def strip_huffman_tables(jpeg):
    """Drop every DHT (0xFFC4) segment before the scan."""
    out, i = bytearray(jpeg[:2]), 2
    while jpeg[i] == 0xFF and jpeg[i + 1] != 0xDA:
        n = 2 + (jpeg[i + 2] << 8 | jpeg[i + 3])
        if jpeg[i + 1] != 0xC4:
            out += jpeg[i:i + n]
        i += n
    return bytes(out + jpeg[i:])


for i, rgb in enumerate(pan((320, 240), 3)):
    path = f"{OUT}mjpeg_{i}.jpg"
    Image.fromarray(rgb.astype(np.uint8)).save(path, quality=75, subsampling=1)
    if i == 1:
        data = open(path, "rb").read()
        open(path, "wb").write(strip_huffman_tables(data))

y4m = [b"YUV4MPEG2 W160 H120 F30:1 Ip A1:1 C420jpeg\n"]
for i, rgb in enumerate(pan((160, 120), 2)):
    y, u, v = ycbcr(rgb)
    # 4:2:2: average horizontal pairs of chroma.
    u2 = ((u[:, 0::2].astype(int) + u[:, 1::2] + 1) // 2).astype(np.uint8)
    v2 = ((v[:, 0::2].astype(int) + v[:, 1::2] + 1) // 2).astype(np.uint8)
    yuyv = np.stack([y[:, 0::2], u2, y[:, 1::2], v2], axis=-1)
    open(f"{OUT}yuyv_{i}.raw", "wb").write(yuyv.tobytes())
    u4 = ((u2[0::2].astype(int) + u2[1::2] + 1) // 2).astype(np.uint8)
    v4 = ((v2[0::2].astype(int) + v2[1::2] + 1) // 2).astype(np.uint8)
    y4m += [b"FRAME\n", y.tobytes(), u4.tobytes(), v4.tobytes()]
open(f"{OUT}pan.y4m", "wb").write(b"".join(y4m))
