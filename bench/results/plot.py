#!/usr/bin/python3
"""Turn the measured runs in bench/results/*.json into PNG plots next to them:
  <compare file>.png  stacked bars of latency per stage, libyolact and the official code,
                      per thread count (and image) (files written by bench/compare --json);
  cpu-ort.png         network-only and whole-frame medians of libyolact, ONNX Runtime and
                      the official code, per network and thread count (cpu-ort-*.json);
  <bench file>.png    images/s against batch size per thread count (yolact-bench --json
                      runs with more than one batch size);
  scaling-*.png       latency and peak memory against input size, image size and the
                      number of detections (bench/scaling).
Needs matplotlib (Debian's python3-matplotlib, or make bench-compare-ort's venv).   Usage: bench/results/plot.py [FILE.json...]
"""
import glob
import json
import os
import statistics
import sys

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

STAGES = ('preprocess', 'upload', 'backbone', 'fpn', 'protonet', 'heads', 'detect', 'masks',
          'download', 'other')


def stacked_stages(ax, labels, latencies):
    """One bar per label, its stages (medians, ms) stacked."""
    bottom = [0.0] * len(labels)
    for stage in STAGES:
        heights = [lat.get(stage, {}).get('median', 0.0) for lat in latencies]
        if not any(h > 0 for h in heights):
            continue
        ax.bar(labels, heights, bottom=bottom, label=stage)
        bottom = [b + h for b, h in zip(bottom, heights)]
    ax.set_ylabel('median latency per image (ms)')
    ax.legend(fontsize='small')


def plot_compare(doc, png):
    labels, latencies = [], []
    images = {r.get('image') for r in doc['runs']}
    for r in doc['runs']:
        # CPU runs go by thread count, GPU runs (bench/compare --device cuda) by precision.
        what = r['precision'] if 'precision' in r else '%d thr' % r['threads']
        if len(images) > 1:
            what += ' ' + os.path.splitext(os.path.basename(r['image']))[0]
        if 'skipped' not in r['libyolact']:
            labels.append('libyolact\n%s' % what)
            latencies.append(r['libyolact']['latency_ms'])
        if r['official']:
            labels.append('official\n%s' % what)
            latencies.append(r['official'])
    gpu = doc['machine'].get('gpu') if doc.get('device') == 'cuda' else None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    stacked_stages(ax, labels, latencies)
    ax.set_title('%s, %dx%d image, %s\n%s, commit %s' % (
        doc['model']['preset'], doc['image']['width'], doc['image']['height'],
        'GPU (%s)' % gpu['name'] if gpu else 'CPU (%s)' % doc['machine']['cpu'],
        doc['date'][:10], doc['commit']), fontsize='small')
    fig.tight_layout()
    fig.savefig(png, dpi=100)


def plot_batches(doc, png):
    fig, ax = plt.subplots(figsize=(6, 4))
    for threads in sorted({r['threads'] for r in doc['runs'] if 'skipped' not in r}):
        runs = sorted((r for r in doc['runs'] if r['threads'] == threads and 'skipped' not in r),
                      key=lambda r: r['batch'])
        ax.plot([r['batch'] for r in runs], [r['images_per_s'] for r in runs], 'o-',
                label='%s %s, %d threads' % (runs[0]['backend'], runs[0]['precision'], threads))
    ax.set_xlabel('batch size')
    ax.set_ylabel('images/s')
    ax.set_ylim(bottom=0)
    ax.set_title('%s throughput (%s, commit %s)' % (doc['model']['preset'], doc['date'][:10],
                                                    doc['commit']), fontsize='small')
    ax.legend(fontsize='small')
    fig.tight_layout()
    fig.savefig(png, dpi=100)


def plot_scaling(doc, prefix):
    sizes = doc['input_size']
    fig, (ax, mem) = plt.subplots(1, 2, figsize=(10, 4))
    stacked_stages(ax, [str(d['model']['input_size']) for d in sizes],
                   [d['runs'][0]['latency_ms'] for d in sizes])
    ax.set_xlabel('network input size (im400, base, im700)')
    mem.plot([d['model']['input_size'] for d in sizes], [d['peak_rss_mib'] for d in sizes], 'o-')
    mem.set_xlabel('network input size')
    mem.set_ylabel('peak RSS (MiB)')
    mem.set_ylim(bottom=0)
    fig.suptitle('ResNet-101 YOLACT, %d threads' % sizes[0]['runs'][0]['threads'],
                 fontsize='small')
    fig.tight_layout()
    fig.savefig(prefix + '-input.png', dpi=100)

    for key, xlabel, x in (
            ('image_size', 'image megapixels',
             lambda d: d['image']['width'] * d['image']['height'] / 1e6),
            ('detections', 'detections', lambda d: d['runs'][0]['detections'])):
        fig, ax = plt.subplots(figsize=(6, 4))
        points = doc[key]
        for stage in ('preprocess', 'detect', 'masks'):
            ax.plot([x(d) for d in points],
                    [d['runs'][0]['latency_ms'][stage]['median'] for d in points], 'o-',
                    label=stage)
        ax.set_xlabel(xlabel)
        ax.set_ylabel('median ms')
        ax.legend(fontsize='small')
        ax.set_title('parity network, %d threads' % points[0]['runs'][0]['threads'],
                     fontsize='small')
        fig.tight_layout()
        fig.savefig('%s-%s.png' % (prefix, key.replace('_', '-')), dpi=100)


ORT_SIDES = (('libyolact', 'libyolact (fixed)', 'C0'), ('libyolact:auto', 'libyolact (auto)', 'C3'),
             ('onnxruntime', 'ONNX Runtime', 'C1'), ('official', 'official PyTorch', 'C2'))


def plot_ort(paths, png):
    """Grouped bars per (network, threads): network only for every side, whole frame for
    libyolact (each convolution mode) and the official code; medians over every image and
    round."""
    groups, net = [], {s[0]: [] for s in ORT_SIDES}
    frame = {'libyolact': [], 'libyolact:auto': [], 'official': []}
    for path in paths:
        doc = json.load(open(path))
        name = os.path.splitext(os.path.basename(path))[0][len('cpu-ort-'):]
        for t in sorted({r['threads'] for r in doc['runs']}):
            runs = [r for r in doc['runs'] if r['threads'] == t]
            groups.append('%s\n%d thr' % (name, t))
            for side, _, _ in ORT_SIDES:
                net[side].append(median([x for r in runs if side in r['network_only']
                                         for x in r['network_only'][side]['samples']]))
            frame['libyolact'].append(median([x for r in runs for x in
                                              r['libyolact']['latency_ms']['total']['samples']]))
            frame['libyolact:auto'].append(median([
                x for r in runs if 'auto' in r.get('libyolact_by_conv_mode', {})
                for x in r['libyolact_by_conv_mode']['auto']['latency_ms']['total']['samples']]))
            frame['official'].append(median([x for r in runs if r['official']
                                             for x in r['official']['total']['samples']]))
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(max(7, 1.3 * len(groups)), 8))
    for ax, data, title in ((ax1, net, 'network only'), (ax2, frame, 'whole frame')):
        sides = [s for s in ORT_SIDES if s[0] in data]
        width = 0.8 / len(sides)
        for k, (side, label, color) in enumerate(sides):
            ax.bar([i + (k - (len(sides) - 1) / 2) * width for i in range(len(groups))],
                   [v or 0 for v in data[side]], width, label=label, color=color)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels(groups, fontsize='small')
        ax.set_ylabel('median ms per image')
        ax.set_title('%s (CPU: %s, %s)' % (title, doc['machine']['cpu'], doc['date'][:10]),
                     fontsize='small')
        ax.legend(fontsize='small')
    fig.tight_layout()
    fig.savefig(png, dpi=100)


def median(values):
    return statistics.median(values) if values else None


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ort = sorted(glob.glob(os.path.join(here, 'cpu-ort-*.json')))
    if ort and not sys.argv[1:]:
        plot_ort(ort, os.path.join(here, 'cpu-ort.png'))
        print('plotted', os.path.join(here, 'cpu-ort.png'))
    for path in sys.argv[1:] or sorted(glob.glob(os.path.join(here, '*.json'))):
        doc = json.load(open(path))
        base = os.path.splitext(path)[0]
        if 'input_size' in doc:
            plot_scaling(doc, base)
        elif path in ort:
            continue  # all together in cpu-ort.png
        elif doc.get('tool') == 'bench/compare':
            plot_compare(doc, base + '.png')
        elif doc.get('tool') == 'yolact-bench' and len({r['batch'] for r in doc['runs']}) > 1:
            plot_batches(doc, base + '.png')
        else:
            continue
        print('plotted', path)


if __name__ == '__main__':
    main()
