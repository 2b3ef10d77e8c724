#!/usr/bin/python3
"""Time the official PyTorch YOLACT (a checkout of github.com/dbolya/yolact, which we do not
ship) on the CPU, on the same checkpoint and image as yolact-detect --repeat, so the two can
be compared side by side.

    bench/official_cpu.py --yolact-dir DIR --weights FILE --config NAME --image IMG
                          [--threads N] [--runs N]
    bench/official_cpu.py --yolact-dir DIR --make-random yolact_base --out FILE.pth

--config is an official config name (yolact_base, yolact_resnet50, ...) or yolact_tiny, the
reduced network of the parity set (its definition is in test/data/parity/README.md).
--make-random writes a checkpoint of that config with random weights (seed 0), for timing a
full-size network without downloading one.

The official code does not run as is on a CPU-only PyTorch; these shims are applied at run
time, and no official file is edited:
  - torch.cuda.current_device (called at import of yolact.py) returns 0;
  - Tensor.cuda returns the tensor itself (FastBaseTransform moves its constants with it);
  - pycocotools (imported by data/coco.py, unused for inference) is a stub module.
Timed: FastBaseTransform + net(batch) + postprocess (crop, bilinear resize, threshold), the
official eval path, median of --runs after one warm-up, torch.set_num_threads(--threads).
Prints one line: 'official_cpu_ms median=... runs=[...]'.

bench/compare imports this file (load_official, make_random, time_official) to time the
official side next to yolact-bench, stage by stage: timing hooks on the backbone, the FPN,
the protonet, the prediction heads and Detect; preprocess is FastBaseTransform and masks
the postprocess.
"""
import argparse
import statistics
import sys
import time
import types

STAGES = ('preprocess', 'backbone', 'fpn', 'protonet', 'heads', 'detect', 'masks')


def apply_shims(torch):
    torch.cuda.current_device = lambda: 0
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    stub = types.ModuleType('pycocotools')
    stub.mask = types.ModuleType('pycocotools.mask')
    sys.modules['pycocotools'] = stub
    sys.modules['pycocotools.mask'] = stub.mask


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


def setup(yolact_dir, threads):
    """Import torch with the shims, put the checkout on the path; returns torch."""
    import torch
    apply_shims(torch)
    if yolact_dir not in sys.path:
        sys.path.insert(0, yolact_dir)
    torch.set_num_threads(threads)
    return torch


def make_random(config_name, out):
    """Write a checkpoint of an official config with random weights (seed 0)."""
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
    """Seconds per stage of the current frame, charged by hooks around the modules."""

    def __init__(self):
        self.seconds = dict.fromkeys(STAGES, 0.0)
        self._start = {}

    def start(self, stage):
        self._start[stage] = time.perf_counter()

    def stop(self, stage):
        self.seconds[stage] += time.perf_counter() - self._start.pop(stage)

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


def load_official(weights, config_name):
    """The official network in eval mode with Fast NMS, as eval.py runs it, and a clock
    that the timing hooks fill."""
    import torch
    set_config(config_name)
    from yolact import Yolact
    net = Yolact()
    net.load_weights(weights)
    net.eval()
    net.detect.use_fast_nms = True
    net.detect.use_cross_class_nms = False
    clock = _StageClock()
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


def time_official(net, clock, image, runs, warmup=1):
    """Time the official eval path on one image file: a list of {stage: ms, 'total': ms}."""
    import cv2
    import torch
    from utils.augmentations import FastBaseTransform
    from layers.output_utils import postprocess
    frame = torch.from_numpy(cv2.imread(image)).float()
    h, w = frame.shape[:2]
    samples = []
    for i in range(warmup + runs):
        clock.seconds = dict.fromkeys(STAGES, 0.0)
        t0 = time.perf_counter()
        with torch.no_grad():
            batch = clock.wrap('preprocess', FastBaseTransform())(frame.unsqueeze(0))
            preds = net(batch)
            clock.wrap('masks', postprocess)(preds, w, h, crop_masks=True, score_threshold=0)
        total = time.perf_counter() - t0
        if i >= warmup:
            sample = {k: 1e3 * v for k, v in clock.seconds.items()}
            sample['other'] = 1e3 * total - sum(sample.values())
            sample['total'] = 1e3 * total
            samples.append(sample)
    return samples


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--yolact-dir', required=True)
    ap.add_argument('--weights')
    ap.add_argument('--config', default='yolact_base')
    ap.add_argument('--image')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--runs', type=int, default=5)
    ap.add_argument('--make-random')
    ap.add_argument('--out')
    args = ap.parse_args()

    setup(args.yolact_dir, args.threads)
    if args.make_random:
        make_random(args.make_random, args.out)
        print('wrote', args.out)
        return
    net, clock = load_official(args.weights, args.config)
    runs = [s['total'] for s in time_official(net, clock, args.image, args.runs)]
    print('official_cpu_ms median=%.1f runs=[%s]' % (statistics.median(runs),
                                                     ', '.join('%.1f' % r for r in runs)))


if __name__ == '__main__':
    main()
