#!/usr/bin/python3
"""Time the official PyTorch YOLACT (a checkout of github.com/dbolya/yolact, which we do not
ship) on the CPU or a GPU, on the same checkpoint and image as yolact-bench, so the two can
be compared side by side (bench/compare imports this file).

    bench/official.py --yolact-dir DIR --weights FILE --config NAME --image IMG
                      [--device cpu|cuda] [--half] [--threads N] [--runs N]
    bench/official.py --yolact-dir DIR --make-random yolact_base --out FILE.pth

--config is an official config name (yolact_base, yolact_resnet50, ...) or yolact_tiny, the
reduced network of the parity set (its definition is in test/data/parity/README.md).
--make-random writes a checkpoint of that config with random weights (seed 0), for timing a
full-size network without downloading one.

No official file is edited; these shims are applied at run time:
  - pycocotools (imported by data/coco.py, unused for inference) is a stub module;
  - YOLACT++'s DCNv2 is a CUDA extension: its module `dcn_v2` is replaced by one whose DCN
    has the official class's parameters and runs torchvision.ops.deform_conv2d with
    mask=sigmoid(...) (the op the official CUDA kernel computes), when torchvision imports;
  - on a CPU-only PyTorch, torch.cuda.current_device (called at import of yolact.py) returns
    0 and Tensor.cuda returns the tensor itself (FastBaseTransform moves its constants with
    it);
  - on a GPU, as eval.py does with --cuda: cudnn.fastest, the default tensor type
    torch.cuda.FloatTensor (the priors are made with it; tensors_on_the_gpu), the network moved
    with .cuda();
  - FP16 (--half, GPU only): the official code has no FP16 switch, so the network is
    converted with .half() and FastBaseTransform's output cast with .half() before the
    network. Everything else is as the official code makes it: the priors stay FP32, so
    PyTorch's type promotion makes Detect's box decoding and the mask crop FP32.
Timed: the official eval path, FastBaseTransform + net(batch) + postprocess (crop, bilinear
resize, threshold); on a GPU also the image's upload (eval.py's `.cuda().float()`) and the
download of the results (classes, scores, boxes, masks as bytes: yolact-bench's result is
on the host too). Median of --runs after one warm-up, torch.set_num_threads(--threads).
Prints one line: 'official_<device>_ms median=... runs=[...]'.

The network alone (time_network, bench/compare's "network only" row): the raw head outputs
(network_outputs: loc, conf after the eval graph's softmax, mask coefficients, prototypes;
the module bench/official_onnx.py exports) on the preprocessed image, Detect left out.

Per stage, hooks on the backbone, the FPN, the protonet, the prediction heads and Detect;
preprocess is FastBaseTransform and masks the postprocess. On a GPU each stage boundary calls
torch.cuda.synchronize() so the GPU's work is charged to the stage that queued it; a second
pass, synchronised only at the start and end of each frame, gives the unperturbed end-to-end
time ('unprofiled').
"""
import argparse
import statistics
import sys
import time
import types

STAGES = ('preprocess', 'upload', 'backbone', 'fpn', 'protonet', 'heads', 'detect', 'masks',
          'download')


def apply_shims(torch, cpu=True):
    """pycocotools stubbed; with cpu, the CUDA calls the official code makes at import and in
    FastBaseTransform made harmless."""
    if cpu:
        torch.cuda.current_device = lambda: 0
        torch.Tensor.cuda = lambda self, *args, **kwargs: self
    stub = types.ModuleType('pycocotools')
    stub.mask = types.ModuleType('pycocotools.mask')
    sys.modules['pycocotools'] = stub
    sys.modules['pycocotools.mask'] = stub.mask


def install_dcn_shim(torch):
    """A module `dcn_v2` whose DCN has the official class's parameters and runs torchvision;
    returns the class, or None when torchvision does not import (YOLACT++ cannot run then)."""
    try:
        from torchvision.ops import deform_conv2d
    except ImportError:
        return None
    if 'dcn_v2' in sys.modules:
        return sys.modules['dcn_v2'].DCN

    class DCN(torch.nn.Module):
        def __init__(self, in_channels, out_channels, kernel_size, stride, padding,
                     dilation=1, deformable_groups=1):
            super().__init__()
            assert deformable_groups == 1
            k = kernel_size if isinstance(kernel_size, tuple) else (kernel_size, kernel_size)
            self.stride, self.padding, self.dilation = stride, padding, dilation
            self.weight = torch.nn.Parameter(torch.empty(out_channels, in_channels, *k))
            self.bias = torch.nn.Parameter(torch.zeros(out_channels))
            self.conv_offset_mask = torch.nn.Conv2d(in_channels, 3 * k[0] * k[1], k,
                                                    stride=stride, padding=padding, bias=True)

        def forward(self, x):
            o1, o2, mask = torch.chunk(self.conv_offset_mask(x), 3, dim=1)
            return deform_conv2d(x, torch.cat((o1, o2), dim=1), self.weight, self.bias,
                                 stride=self.stride, padding=self.padding,
                                 dilation=self.dilation, mask=torch.sigmoid(mask))

    module = types.ModuleType('dcn_v2')
    module.DCN = DCN
    sys.modules['dcn_v2'] = module
    return DCN


def cuda_unavailable():
    """Why the official side cannot run on a GPU here, or None when it can."""
    try:
        import torch
    except ImportError as e:
        return 'PyTorch cannot be imported (%s)' % e
    if not torch.version.cuda:
        return 'PyTorch %s is built without CUDA' % torch.__version__
    if not torch.cuda.is_available():
        return 'PyTorch %s (CUDA %s) sees no usable GPU' % (torch.__version__,
                                                           torch.version.cuda)
    return None


def tensors_on_the_gpu(torch):
    """New tensors on the GPU by default, as train.py's and eval.py's --cuda set
    torch.cuda.FloatTensor: set_default_device where PyTorch has it (2.0 and later, where
    set_default_tensor_type is deprecated), else the tensor type."""
    if hasattr(torch, 'set_default_device'):
        torch.set_default_device('cuda')
    else:
        torch.set_default_tensor_type('torch.cuda.FloatTensor')


def set_config(name):
    from data import config
    if name == 'yolact_tiny':
        base = config.yolact_resnet50_config
        config.yolact_tiny_config = base.copy({
            'name': 'yolact_tiny',
            'backbone': base.backbone.copy({'name': 'ResNetTiny', 'path': 'none',
                                            'args': ([1, 1, 1, 1],)}),
            'fpn': base.fpn.copy({'num_features': 64}),
            'mask_proto_net': [(64, 3, {'padding': 1})] * 3 + [(None, -2, {}),
                               (64, 3, {'padding': 1})] + [(32, 1, {})],
            'extra_head_net': [(64, 3, {'padding': 1})],
        })
    config.set_cfg(name + '_config')
    config.cfg.mask_proto_debug = False  # eval.py sets this from its command line


def setup(yolact_dir, threads, device='cpu'):
    """Import torch with the shims, put the checkout on the path; returns torch."""
    import torch
    apply_shims(torch, cpu=device == 'cpu')
    install_dcn_shim(torch)
    if yolact_dir not in sys.path:
        sys.path.insert(0, yolact_dir)
    torch.set_num_threads(threads)
    return torch


def make_random(config_name, out):
    """Write a checkpoint of an official config with random weights (seed 0), on the CPU."""
    import torch
    set_config(config_name)
    from yolact import Yolact
    torch.manual_seed(0)
    net = Yolact()
    for name, p in net.state_dict().items():
        if 'running_var' in name:
            p.uniform_(0.5, 1.5)
        elif p.is_floating_point():
            p.normal_(0, 0.02)
    net.save_weights(out)


class _StageClock:
    """Seconds per stage of the current frame, charged by hooks around the modules. With
    sync (torch.cuda.synchronize), each boundary waits for the GPU first; sync_stages False
    leaves the boundaries alone (for the unprofiled pass) and charges nothing."""

    def __init__(self, sync=None):
        self.seconds = dict.fromkeys(STAGES, 0.0)
        self.sync = sync
        self.sync_stages = True
        self._start = {}

    def now(self):
        if self.sync:
            self.sync()
        return time.perf_counter()

    def start(self, stage):
        if self.sync_stages:
            self._start[stage] = self.now()

    def stop(self, stage):
        if self.sync_stages:
            self.seconds[stage] += self.now() - self._start.pop(stage)

    def wrap(self, stage, fn):
        def timed(*args, **kwargs):
            self.start(stage)
            try:
                return fn(*args, **kwargs)
            finally:
                self.stop(stage)
        return timed

    def hook(self, stage, module):
        module.register_forward_pre_hook(lambda *_: self.start(stage))
        module.register_forward_hook(lambda *_: self.stop(stage))


def load_official(weights, config_name, device='cpu'):
    """The official network in eval mode with Fast NMS, as eval.py runs it (on the GPU as
    eval.py does with --cuda), and a clock that the timing hooks fill."""
    import torch
    set_config(config_name)
    from yolact import Yolact
    if device == 'cuda':
        torch.backends.cudnn.fastest = True
        tensors_on_the_gpu(torch)
    net = Yolact()
    net.load_weights(weights)
    net.eval()
    if device == 'cuda':
        net = net.cuda()
    net.detect.use_fast_nms = True
    net.detect.use_cross_class_nms = False
    clock = _StageClock(torch.cuda.synchronize if device == 'cuda' else None)
    clock.hook('backbone', net.backbone)
    clock.hook('protonet', net.proto_net)
    for layer in net.prediction_layers:
        clock.hook('heads', layer)

    class TimedFPN(torch.nn.Module):  # the FPN is a ScriptModule: no Python hooks on it
        def __init__(self, fpn):
            super().__init__()
            self.inner = fpn

        def forward(self, x):
            return clock.wrap('fpn', self.inner)(x)

    net.fpn = TimedFPN(net.fpn)
    net.detect = clock.wrap('detect', net.detect)
    return net, clock


def network_outputs(net):
    """A module running net from the preprocessed batch to the raw head outputs (loc, conf,
    mask, proto) as the eval graph has them before Detect: the part an ONNX export holds."""
    import torch

    class Outputs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, batch):
            detect = self.net.detect
            self.net.detect = lambda preds, _net: preds
            try:
                preds = self.net(batch)
            finally:
                self.net.detect = detect
            return preds['loc'], preds['conf'], preds['mask'], preds['proto']

    return Outputs().eval()


def preprocess(image):
    """The image file as the network's input batch (FastBaseTransform), on the CPU."""
    import cv2
    import torch
    from utils.augmentations import FastBaseTransform
    with torch.no_grad():
        return FastBaseTransform()(torch.from_numpy(cv2.imread(image)).float().unsqueeze(0))


def time_network(net, image, runs, warmup=1):
    """ms per call of the network alone (network_outputs) on the preprocessed image, CPU."""
    import torch
    outputs, batch = network_outputs(net), preprocess(image)
    samples = []
    with torch.no_grad():
        for i in range(warmup + runs):
            t0 = time.perf_counter()
            outputs(batch)
            if i >= warmup:
                samples.append(1e3 * (time.perf_counter() - t0))
    return samples


def _frame(net, clock, pixels, device, half):
    """One image through the eval path; the results on the host when on a GPU."""
    import torch
    from utils.augmentations import FastBaseTransform
    from layers.output_utils import postprocess
    h, w = pixels.shape[:2]
    with torch.no_grad():
        if device == 'cuda':
            frame = clock.wrap('upload', lambda: pixels.cuda().float())()
        else:
            frame = pixels
        batch = clock.wrap('preprocess', FastBaseTransform())(frame.unsqueeze(0))
        preds = net(batch.half() if half else batch)
        result = clock.wrap('masks', postprocess)(preds, w, h, crop_masks=True,
                                                  score_threshold=0)
        if device == 'cuda':
            clock.wrap('download', lambda: [t.byte().cpu() if i == 3 else t.cpu()
                                            for i, t in enumerate(result)])()


def time_official(net, clock, image, runs, warmup=1, device='cpu', half=False):
    """Time the official eval path on one image file: a list of {stage: ms, 'other': ms,
    'total': ms}, and on a GPU the unprofiled end-to-end times (ms), else None. half: the
    network is converted with .half() first (GPU only)."""
    import cv2
    import torch
    pixels = torch.from_numpy(cv2.imread(image))
    if device == 'cpu':
        pixels = pixels.float()  # outside the timed region, as before the GPU path existed
    if half:
        net.half()
    samples = []
    for i in range(warmup + runs):
        clock.seconds = dict.fromkeys(STAGES, 0.0)
        t0 = clock.now()
        _frame(net, clock, pixels, device, half)
        total = clock.now() - t0
        if i >= warmup:
            sample = {k: 1e3 * v for k, v in clock.seconds.items()}
            sample['other'] = 1e3 * total - sum(sample.values())
            sample['total'] = 1e3 * total
            samples.append(sample)
    if device == 'cpu':
        return samples, None
    clock.sync_stages = False
    unprofiled = []
    for i in range(warmup + runs):
        t0 = clock.now()
        _frame(net, clock, pixels, device, half)
        if i >= warmup:
            unprofiled.append(1e3 * (clock.now() - t0))
    clock.sync_stages = True
    return samples, unprofiled


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--yolact-dir', required=True)
    ap.add_argument('--weights')
    ap.add_argument('--config', default='yolact_base')
    ap.add_argument('--image')
    ap.add_argument('--device', choices=('cpu', 'cuda'), default='cpu')
    ap.add_argument('--half', action='store_true', help='FP16 (GPU only)')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--runs', type=int, default=5)
    ap.add_argument('--make-random')
    ap.add_argument('--out')
    args = ap.parse_args()
    if args.device == 'cuda' and cuda_unavailable():
        print('official: skipped: %s' % cuda_unavailable())
        return
    if args.half and args.device != 'cuda':
        ap.error('--half needs --device cuda')

    setup(args.yolact_dir, args.threads, args.device)
    if args.make_random:
        make_random(args.make_random, args.out)
        print('wrote', args.out)
        return
    net, clock = load_official(args.weights, args.config, args.device)
    samples, _ = time_official(net, clock, args.image, args.runs, device=args.device,
                               half=args.half)
    runs = [s['total'] for s in samples]
    print('official_%s_ms median=%.1f runs=[%s]' % (args.device, statistics.median(runs),
                                                   ', '.join('%.1f' % r for r in runs)))


if __name__ == '__main__':
    main()
