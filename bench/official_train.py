#!/usr/bin/python3
"""Time the official PyTorch YOLACT training step (a checkout of github.com/dbolya/yolact,
which we do not ship) on the CPU, phase by phase as yolact-train-bench times libyolact's, and
the process's peak memory; bench/train_compare runs it in a process of its own per round.

    bench/official_train.py --yolact-dir DIR --config NAME --weights FILE [--batch N]
                            [--device cpu|cuda] [--threads N] [--warmup N] [--iters N]
                            [--json OUT.json]

--config is an official config name or yolact_tiny (the parity network, bench/official.py);
--weights a checkpoint of it (bench/official.py --make-random writes a random one).
The step is train.py's: the network in train() with cfg.freeze_bn (train.py sets it when a
GPU's batch is under 6; kept at every batch here, as libyolact's trainer always freezes it),
MultiBoxLoss as train.py builds it, NetLoss's order (network, then loss), the losses summed,
backward(), torch.optim.SGD(lr 1e-4, momentum 0.9, weight decay 5e-4).step() after
zero_grad() (1e-4: the warm-up's first rate, which keeps repeated steps on one batch from
diverging). The batch is one tensor, as train.py feeds it. Images and ground truth are
generated: the same objects as yolact-train-bench's (three ellipses per image, their boxes
and labels, masks at the input size); the images are normalised-looking random values.
bench/official.py's run-time shims are applied (no official file is edited).
Peak memory: ru_maxrss of this process (the import of torch and the network included).
--device cuda runs the step on the GPU as train.py does there (new tensors on the GPU by
default, official.tensors_on_the_gpu; the network, the images and the ground truth there) and
waits for the GPU (torch.cuda.synchronize) at every phase's boundary, so each phase is
charged its own kernels; the JSON then also has the GPU's name and the peak of
torch.cuda.max_memory_allocated. Without a usable GPU it says why and exits 2.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import official  # noqa: E402  (next to this script)

PHASES = ('forward', 'loss', 'backward', 'update', 'total')
OBJECTS_PER_IMAGE = 3


def ground_truth(torch, batch, size, num_classes):
    """yolact-train-bench's objects: targets (x1, y1, x2, y2, label) and masks per image."""
    ys, xs = torch.meshgrid(torch.arange(size) + 0.5, torch.arange(size) + 0.5, indexing='ij')
    targets, masks = [], []
    for b in range(batch):
        rows, planes = [], []
        for k in range(OBJECTS_PER_IMAGE):
            x1, y1 = 0.05 + 0.3 * k, 0.1 + 0.07 * ((b + k) % 5)
            w, h = 0.2 + 0.02 * (b % 3), 0.3 + 0.05 * k
            cx, cy, rx, ry = (x1 + w / 2) * size, (y1 + h / 2) * size, w / 2 * size, h / 2 * size
            planes.append((((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1).float())
            rows.append([x1, y1, x1 + w, y1 + h, (b * 7 + k * 13) % (num_classes - 1)])
        targets.append(torch.tensor(rows, dtype=torch.float32))
        masks.append(torch.stack(planes))
    return targets, masks, [0] * batch


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--yolact-dir', required=True)
    ap.add_argument('--config', required=True)
    ap.add_argument('--weights', required=True)
    ap.add_argument('--batch', type=int, default=2)
    ap.add_argument('--device', choices=('cpu', 'cuda'), default='cpu')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--warmup', type=int, default=1)
    ap.add_argument('--iters', type=int, default=3)
    ap.add_argument('--json')
    args = ap.parse_args()

    gpu = args.device == 'cuda'
    why = official.cuda_unavailable() if gpu else None
    if why:
        print('bench/official_train.py: --device cuda: %s' % why, file=sys.stderr)
        return 2
    torch = official.setup(args.yolact_dir, args.threads, args.device)
    if gpu:
        official.tensors_on_the_gpu(torch)  # as train.py's --cuda
    official.set_config(args.config)
    from data.config import cfg
    from layers.modules import MultiBoxLoss
    from yolact import Yolact
    cfg.freeze_bn = True
    torch.manual_seed(0)
    net = Yolact()
    net.load_weights(args.weights)
    net.train()
    if gpu:
        net = net.cuda()
    criterion = MultiBoxLoss(num_classes=cfg.num_classes,
                             pos_threshold=cfg.positive_iou_threshold,
                             neg_threshold=cfg.negative_iou_threshold,
                             negpos_ratio=cfg.ohem_negpos_ratio)
    optimizer = torch.optim.SGD(net.parameters(), lr=1e-4, momentum=0.9, weight_decay=5e-4)
    size = cfg.max_size
    images = torch.randn(args.batch, 3, size, size, generator=torch.Generator(device='cpu').manual_seed(1),
                         device='cpu')
    targets, masks, num_crowds = ground_truth(torch, args.batch, size, cfg.num_classes)
    if gpu:
        images = images.cuda()
        targets = [t.cuda() for t in targets]
        masks = [m.cuda() for m in masks]

    def now():
        if gpu:
            torch.cuda.synchronize()
        return time.perf_counter()

    samples = {p: [] for p in PHASES}
    for i in range(args.warmup + args.iters):
        t0 = now()
        preds = net(images)
        t1 = now()
        losses = criterion(net, preds, targets, masks, num_crowds)
        loss = sum(v.mean() for v in losses.values())
        t2 = now()
        optimizer.zero_grad()
        loss.backward()
        t3 = now()
        if torch.isfinite(loss).item():
            optimizer.step()
        t4 = now()
        if i >= args.warmup:
            for p, s in zip(PHASES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0)):
                samples[p].append(s * 1e3)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    doc = {'tool': 'bench/official_train.py', 'config': args.config,
           'model': args.weights, 'batch': args.batch, 'threads': args.threads,
           'warmup': args.warmup, 'iters': args.iters, 'torch': torch.__version__,
           'freeze_bn': True, 'device': args.device,
           'gpu': torch.cuda.get_device_name() if gpu else None,
           'gpu_peak_mib': torch.cuda.max_memory_allocated() / 2**20 if gpu else None,
           'phases_ms': {p: {'median': statistics.median(s), 'samples': s}
                         for p, s in samples.items()},
           'peak_rss_mib': peak,
           'last_losses': dict({k: v.item() for k, v in losses.items()}, total=loss.item())}
    print('official training step, %s (%s), batch %d (one tensor), %s, median of %d:'
          % (args.weights, args.config, args.batch,
             doc['gpu'] if gpu else '%d threads' % args.threads, args.iters))
    for p in PHASES:
        print('  %-9s %10.1f ms' % (p, doc['phases_ms'][p]['median']))
    print('  peak RSS  %10.1f MiB' % peak)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(doc, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
