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
"""
import argparse
import statistics
import sys
import time
import types


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

    import torch
    apply_shims(torch)
    sys.path.insert(0, args.yolact_dir)
    torch.set_num_threads(args.threads)

    if args.make_random:
        set_config(args.make_random)
        from yolact import Yolact
        torch.manual_seed(0)
        net = Yolact()
        for name, p in net.state_dict().items():
            if 'running_var' in name:
                p.uniform_(0.5, 1.5)
            elif p.is_floating_point():
                p.normal_(0, 0.02)
        net.save_weights(args.out)
        print('wrote', args.out)
        return

    import cv2
    set_config(args.config)
    from yolact import Yolact
    from utils.augmentations import FastBaseTransform
    from layers.output_utils import postprocess
    net = Yolact()
    net.load_weights(args.weights)
    net.eval()
    net.detect.use_fast_nms = True
    net.detect.use_cross_class_nms = False
    frame = torch.from_numpy(cv2.imread(args.image)).float()
    h, w = frame.shape[:2]

    def once():
        with torch.no_grad():
            batch = FastBaseTransform()(frame.unsqueeze(0))
            preds = net(batch)
            postprocess(preds, w, h, crop_masks=True, score_threshold=0)

    once()
    runs = []
    for _ in range(args.runs):
        t = time.perf_counter()
        once()
        runs.append((time.perf_counter() - t) * 1000)
    print('official_cpu_ms median=%.1f runs=[%s]' % (statistics.median(runs),
                                                     ', '.join('%.1f' % r for r in runs)))


if __name__ == '__main__':
    main()
