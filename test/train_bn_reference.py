#!/usr/bin/python3
"""The official train.py step with trainable BatchNorm on the parity-train case, as the
reference of libyolact's trainer with train_batchnorm (test/data/train/bn/, README.md there).

    test/train_bn_reference.py --yolact-dir DIR [--out test/data/train/bn]

The official code (a checkout of github.com/dbolya/yolact, not shipped) runs unmodified on
the CPU through bench/official.py's shims, in float32: the parity network (yolact_tiny of
test/data/parity/README.md) with its checkpoint, cfg.freeze_bn False, so net.train() leaves
every BatchNorm in train mode (batch statistics, running averages updated with momentum 0.1,
weight and bias trained), as train.py runs it at 6 or more images per GPU; the batch of
test/data/train (astronaut then coffee, preprocessed as at inference, one tensor), its ground
truth (crowds last, as data/coco.py orders them), MultiBoxLoss as train.py builds it with
masks_to_train raised so every positive's mask counts (the parity set's one deviation),
loss.backward(), then torch.optim.SGD(lr 1e-4, momentum 0.9, weight decay 5e-4).step() and
the loss again (a train-mode forward, as the next iteration's).

Written: losses.json (B, C, M, S, total of the step), sgd.json (the total after the SGD
step), grads.npz (per parameter NAME: NAME/stats = [L2 norm, sum, max abs] in float64,
NAME/idx = 32 flat indices, NAME/at = the gradient there, float64), running.npz (every BatchNorm's
running_mean and running_var after the step's forward, float32) and spread.json: the same
step with 1 thread instead of 2, against the reference, in the tolerances' units (losses:
relative; a gradient's norm: relative; its sampled entries: in units of its max abs; the
running statistics: relative to each tensor's max abs), and the same step with PyTorch's own
im2col + GEMM convolutions instead of oneDNN's (torch.backends.mkldnn off): the larger
difference of the two reruns.
"""
import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'bench'))
import official  # noqa: E402

DATA = os.path.join(HERE, 'data')
IMAGES = ('astronaut', 'coffee')
WEIGHTS = os.path.join(DATA, 'parity', 'yolact_tiny_seed1_fp16_zip.pth')
SAMPLES = 32


def rle_decode(rle):
    """COCO's compressed RLE string (column-major counts) as an (h, w) uint8 mask."""
    h, w = rle['size']
    s, counts, i = rle['counts'], [], 0
    while i < len(s):
        x, k, more = 0, 0, True
        while more:
            c = ord(s[i]) - 48
            x |= (c & 0x1f) << (5 * k)
            more = bool(c & 0x20)
            i += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    flat, v, at = np.zeros(h * w, np.uint8), 0, 0
    for n in counts:
        flat[at:at + n] = v
        at += n
        v ^= 1
    return flat.reshape(w, h).T


def batch(torch):
    """The images as one tensor, the ground truth as MultiBoxLoss takes it."""
    with open(os.path.join(DATA, 'train', 'gt.json')) as f:
        gt = json.load(f)['images']
    images, targets, masks, crowds = [], [], [], []
    for name in IMAGES:
        images.append(official.preprocess(os.path.join(DATA, 'parity', name + '.png')))
        objects = sorted(gt[name], key=lambda o: o['crowd'])  # crowds last, stable
        targets.append(torch.tensor([o['box'] + [o['label']] for o in objects],
                                    dtype=torch.float32))
        masks.append(torch.from_numpy(np.stack([rle_decode(o['mask']) for o in objects]))
                     .float())
        crowds.append(sum(1 for o in objects if o['crowd']))
    return torch.cat(images), targets, masks, crowds


def loss_of(net, criterion, data):
    images, targets, masks, crowds = data
    # A list of its own: MultiBoxLoss splits the crowds' masks off in place.
    losses = criterion(net, net(images), targets, list(masks), crowds)
    return losses, sum(v.mean() for v in losses.values())


def step(torch, threads, mkldnn=True):
    """The official step at this thread count (and with oneDNN's convolutions or, mkldnn
    False, PyTorch's own im2col + GEMM ones): losses, gradients, running statistics, the
    total after the SGD step."""
    torch.set_num_threads(threads)
    torch.backends.mkldnn.enabled = mkldnn
    from data.config import cfg
    from layers.modules import MultiBoxLoss
    from yolact import Yolact
    cfg.freeze_bn = False
    cfg.masks_to_train = 10 ** 9
    torch.manual_seed(0)
    net = Yolact()
    net.load_weights(WEIGHTS)
    net.train()
    criterion = MultiBoxLoss(num_classes=cfg.num_classes,
                             pos_threshold=cfg.positive_iou_threshold,
                             neg_threshold=cfg.negative_iou_threshold,
                             negpos_ratio=cfg.ohem_negpos_ratio)
    optimizer = torch.optim.SGD(net.parameters(), lr=1e-4, momentum=0.9, weight_decay=5e-4)
    data = batch(torch)
    losses, total = loss_of(net, criterion, data)
    optimizer.zero_grad()
    total.backward()
    out = {'losses': dict({k: v.mean().item() for k, v in losses.items()},
                          total=total.item()),
           'grads': {n: p.grad.double().numpy().ravel() for n, p in net.named_parameters()
                     if p.grad is not None},
           'running': {n: b.detach().numpy().ravel().copy()
                       for n, b in net.state_dict().items()
                       if n.endswith('running_mean') or n.endswith('running_var')}}
    optimizer.step()
    _, after = loss_of(net, criterion, data)
    out['total_after_step'] = after.item()
    return out


def relative(a, b):
    return abs(a - b) / abs(b) if b else abs(a)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--yolact-dir', required=True)
    ap.add_argument('--out', default=os.path.join(DATA, 'train', 'bn'))
    args = ap.parse_args()
    torch = official.setup(args.yolact_dir, 2)
    official.set_config('yolact_tiny')
    # The spread: the largest difference to the reference of two reruns, one on 1 thread and
    # one with the other convolution algorithm (the float32 results of a convolution differ
    # with its algorithm more than with its thread count).
    ref, reruns = step(torch, 2), [step(torch, 1), step(torch, 2, mkldnn=False)]
    os.makedirs(args.out, exist_ok=True)

    rng = np.random.default_rng(0)
    grads, spread_grads = {}, {}
    for name, g in ref['grads'].items():
        idx = np.sort(rng.choice(g.size, min(SAMPLES, g.size), replace=False)).astype(np.int64)
        peak = np.abs(g).max()
        grads[name + '/stats'] = np.array([np.linalg.norm(g), g.sum(), peak])
        grads[name + '/idx'] = idx
        grads[name + '/at'] = g[idx]
        spread_grads[name] = {
            'norm': max(relative(np.linalg.norm(o['grads'][name]), np.linalg.norm(g))
                        for o in reruns),
            'sampled': max(float(np.abs(o['grads'][name][idx] - g[idx]).max() / peak)
                           for o in reruns) if peak else 0.0,
            'full': 0.0}
    np.savez_compressed(os.path.join(args.out, 'grads.npz'), **grads)
    np.savez_compressed(os.path.join(args.out, 'running.npz'),
                        **{n: v.astype(np.float32) for n, v in ref['running'].items()})
    with open(os.path.join(args.out, 'losses.json'), 'w') as f:
        json.dump({'config': 'yolact_tiny', 'weights': os.path.basename(WEIGHTS),
                   'images': list(IMAGES), 'freeze_bn': False, 'masks_to_train': 'all',
                   'losses': ref['losses']}, f, indent=1)
    with open(os.path.join(args.out, 'sgd.json'), 'w') as f:
        json.dump({'lr': 1e-4, 'momentum': 0.9, 'weight_decay': 5e-4,
                   'losses_before_each_step': [{'total': ref['losses']['total']},
                                               {'total': ref['total_after_step']}]}, f,
                  indent=1)
    spread = {
        'runs_compared': 1 + len(reruns),
        'losses_before_each_step': [
            {k: max(relative(o['losses'][k], v) for o in reruns)
             for k, v in ref['losses'].items()},
            {'total': max(relative(o['total_after_step'], ref['total_after_step'])
                          for o in reruns)}],
        'grads': spread_grads,
        'running': {n: max(float(np.abs(o['running'][n] - v).max() / np.abs(v).max())
                           for o in reruns)
                    for n, v in ref['running'].items()}}
    with open(os.path.join(args.out, 'spread.json'), 'w') as f:
        json.dump(spread, f, indent=1, sort_keys=True)
    print('losses', ref['losses'], 'after the step', ref['total_after_step'])
    print('spread: losses %.3g, gradient norms %.3g, sampled %.3g, running %.3g' % (
        max(spread['losses_before_each_step'][0].values()),
        max(v['norm'] for v in spread_grads.values()),
        max(v['sampled'] for v in spread_grads.values()), max(spread['running'].values())))
    return 0


if __name__ == '__main__':
    sys.exit(main())
