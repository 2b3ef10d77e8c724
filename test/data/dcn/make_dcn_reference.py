#!/usr/bin/python3
"""Write the outside reference for libyolact's DCNv2 (test/data/dcn/*.npz): seeded inputs and
torchvision.ops.deform_conv2d's output with mask=, the op the official DCNv2 computes, in
float64. Needs Debian's python3-torch and python3-torchvision (README.md beside this file).

    test/data/dcn/make_dcn_reference.py [--out test/data/dcn]

Also prints, per case, the spread between torchvision run in float32 and in float64 (worst
|out32 - out64| / sum|terms|), the number the test's FP32 tolerance is set from.
"""
import argparse
import os

import numpy as np
import torch
from torchvision.ops import deform_conv2d

# name, in channels, out channels, height, width, stride, dilation (padding = dilation, as
# YOLACT++'s 3x3 DCNs), offsets uniform in [-range, range) pixels, seed.
CASES = [
    ('c128_69_s1', 128, 16, 69, 69, 1, 1, 2.0, 1),   # stage 2's stride-1 DCNs at 550
    ('c256_35_s1', 256, 16, 35, 35, 1, 1, 2.0, 2),   # stage 3's
    ('c512_18_s1', 512, 16, 18, 18, 1, 1, 2.0, 3),   # stage 4's
    ('c512_35_s2', 512, 16, 35, 35, 2, 1, 1.5, 4),   # stage 4's first block: 35 -> 18
    ('c64_69_s2', 64, 24, 69, 69, 2, 1, 1.5, 5),     # stage 2's first block (resnet50): 69 -> 35
    ('c96_23x17_d2', 96, 40, 23, 17, 1, 2, 3.0, 6),  # dilation 2, padding 2, odd sizes
    ('c64_13x11_far', 64, 70, 13, 11, 1, 1, 9.0, 7), # many samples outside the image
]


def quantised(rng, shape, step, limit):
    """Uniform values on a grid of `step` in [-limit, limit): exact in float32, and the npz's
    deflate packs them in about a byte each."""
    n = int(round(limit / step))
    return (rng.integers(-n, n, size=shape) * step).astype(np.float32)


def make_case(name, c, o, h, w, stride, dil, offset_range, seed):
    rng = np.random.default_rng(seed)
    pad = dil
    oh = (h + 2 * pad - dil * 2 - 1) // stride + 1
    ow = (w + 2 * pad - dil * 2 - 1) // stride + 1
    # The DCN's input follows a BatchNorm and a ReLU in YOLACT++'s Bottleneck: about half zeros.
    x = np.maximum(quantised(rng, (c, h, w), 1 / 32, 2.0), 0)
    weight = quantised(rng, (o, c, 3, 3), 2.0 ** -12, (2.0 / (9 * c)) ** 0.5 * 3 ** 0.5)
    bias = quantised(rng, (o,), 2.0 ** -10, 0.1)
    offset = rng.uniform(-offset_range, offset_range, (18, oh, ow)).astype(np.float32)
    mask_logit = rng.uniform(-4, 4, (9, oh, ow)).astype(np.float32)
    arrays = dict(input=x, offset=offset, mask_logit=mask_logit, weight=weight, bias=bias,
                  geometry=np.array([stride, pad, dil], np.int32))

    def run(dtype, inp, wt, b):
        t = lambda a: torch.from_numpy(np.asarray(a, dtype)).unsqueeze(0)
        mask = torch.sigmoid(t(mask_logit))
        out = deform_conv2d(t(inp), t(offset), torch.from_numpy(np.asarray(wt, dtype)),
                            torch.from_numpy(np.asarray(b, dtype)), stride=stride,
                            padding=pad, dilation=dil, mask=mask)
        return out[0].numpy().astype(np.float64)

    out64 = run(np.float64, x, weight, bias)
    out32 = run(np.float32, x, weight, bias)
    # sum|terms|: bilinear weights and modulations are >= 0, so |x| through |weight|.
    mag = run(np.float64, np.abs(x), np.abs(weight), np.abs(bias))
    arrays['output'] = out64.astype(np.float32)
    # Where every sample is outside and the bias is 0, both are exactly 0.
    spread = np.max(np.abs(out32 - out64) / np.where(mag > 0, mag, 1))
    sy = np.arange(oh)[:, None] * stride - pad
    sx = np.arange(ow)[None, :] * stride - pad
    outside = 0
    for t in range(9):
        y = sy + (t // 3) * dil + offset[2 * t]
        xx = sx + (t % 3) * dil + offset[2 * t + 1]
        outside += np.count_nonzero((y <= -1) | (y >= h) | (xx <= -1) | (xx >= w))
    print('%-14s %3d->%-3d %2dx%-2d stride %d dilation %d -> %2dx%-2d: float32 vs float64 '
          'worst |diff|/sum|terms| %.2e; %.1f%% of samples wholly outside' % (
              name, c, o, h, w, stride, dil, oh, ow, spread, 100.0 * outside / (9 * oh * ow)))
    return arrays, spread


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default=os.path.dirname(os.path.abspath(__file__)))
    args = ap.parse_args()
    torch.set_num_threads(1)
    worst = 0.0
    for case in CASES:
        arrays, spread = make_case(*case)
        worst = max(worst, spread)
        np.savez_compressed(os.path.join(args.out, case[0] + '.npz'), **arrays)
    print('worst float32 spread over the cases: %.2e' % worst)


if __name__ == '__main__':
    main()
