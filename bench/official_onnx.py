#!/usr/bin/python3
"""Export the official YOLACT network (a checkout of github.com/dbolya/yolact, not shipped)
to ONNX for bench/ort_time.py: from the preprocessed 550x550 batch to the raw head outputs
as the official eval graph has them before Detect (bench/official.py's network_outputs):
loc, conf (after its softmax), mask coefficients, prototypes.

    bench/official_onnx.py --yolact-dir DIR --weights FILE --config NAME --image IMG
                           --out NET.onnx

Run with Debian's python3-torch (torch.onnx.export, opset 17). YOLACT++'s DCN (the
torchvision op of bench/official.py's shim) has no ONNX symbolic in PyTorch 1.13: it is
exported as yolact_private::DeformConv with the attributes and inputs of ONNX's opset-19
DeformConv, which bench/ort_time.py renames to that op (it needs the onnx package, which
the venv has and Debian's python does not). Beside NET.onnx it writes NET.npz: the input
batch of IMG and PyTorch's outputs on it, which bench/ort_time.py --check compares against.
"""
import argparse
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import official  # noqa: E402  (next to this script)

PRIVATE_DOMAIN = 'yolact_private'
OPSET = 17
OUTPUTS = ('loc', 'conf', 'mask', 'proto')


def register_deform_conv(torch):
    """torchvision::deform_conv2d as PRIVATE_DOMAIN::DeformConv (ONNX DeformConv's layout:
    X, W, offset, B, mask; offsets as (dy, dx) pairs per tap, as torchvision has them)."""
    from torch.onnx import symbolic_helper

    @symbolic_helper.parse_args('v', 'v', 'v', 'v', 'v', 'i', 'i', 'i', 'i', 'i', 'i', 'i',
                                'i', 'b')
    def deform_conv(g, x, weight, offset, mask, bias, stride_h, stride_w, pad_h, pad_w,
                    dil_h, dil_w, groups, offset_groups, use_mask):
        kernel = symbolic_helper._get_tensor_sizes(weight)[2:]
        inputs = [x, weight, offset, bias] + ([mask] if use_mask else [])
        return g.op(PRIVATE_DOMAIN + '::DeformConv', *inputs, strides_i=[stride_h, stride_w],
                    pads_i=[pad_h, pad_w, pad_h, pad_w], dilations_i=[dil_h, dil_w],
                    group_i=groups, offset_group_i=offset_groups, kernel_shape_i=kernel)

    torch.onnx.register_custom_op_symbolic('torchvision::deform_conv2d', deform_conv, OPSET)


def export(weights, config, image, out):
    import numpy as np
    import torch
    warnings.filterwarnings('ignore', category=UserWarning)  # TorchScript/tracer chatter
    register_deform_conv(torch)
    # yolact.py makes its FPN a ScriptModule when it sees at most one GPU, and the tracer
    # cannot enter one; with two "GPUs" it makes a plain module (the same operations).
    torch.cuda.device_count = lambda: 2
    net, _ = official.load_official(weights, config)
    net.fpn = net.fpn.inner  # bench/official.py's timing wrapper
    outputs, batch = official.network_outputs(net), official.preprocess(image)
    with torch.no_grad():
        reference = outputs(batch)
        torch.onnx.export(outputs, batch, out, opset_version=OPSET, input_names=['image'],
                          output_names=list(OUTPUTS))
    np.savez(os.path.splitext(out)[0] + '.npz', image=batch.numpy(),
             **{k: v.numpy() for k, v in zip(OUTPUTS, reference)})


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--yolact-dir', required=True)
    ap.add_argument('--weights', required=True)
    ap.add_argument('--config', required=True, help='official config name (or yolact_tiny)')
    ap.add_argument('--image', required=True)
    ap.add_argument('--out', required=True)
    args = ap.parse_args()
    official.setup(args.yolact_dir, 1)
    export(args.weights, args.config, args.image, args.out)
    print('wrote', args.out)


if __name__ == '__main__':
    main()
