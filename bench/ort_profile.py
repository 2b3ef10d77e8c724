"""Per-node times of ONNX Runtime on the network bench/official_onnx.py exports, to line up
against `yolact-bench --per-op` (which ops ORT runs faster, and by how much). ORT's own
profiler (SessionOptions.enable_profiling) records every node's kernel time per run; this
prints each node's median over the timed runs, the slowest first, with its op type, its
output shape and the fused activation ORT's graph optimiser gave it.

    ort_profile.py NET.onnx [--threads 1] [--iters 10] [--warmup 2] [--top 40] [--json OUT]

Run with the venv's python that has onnxruntime and onnx (bench/README.md). The session is
ort_time.py's (default graph optimisations, intra_op threads = --threads, inter_op 1).
"""
import argparse
import collections
import json
import os
import statistics
import sys
import tempfile

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ort_time import model_bytes  # noqa: E402  (next to this script)


def profile(path, threads, iters, warmup):
    """{node: {'op', 'shape', 'activation', 'ms': [per timed run]}}, and the runs' totals."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.enable_profiling = True
    opts.profile_file_prefix = os.path.join(tempfile.mkdtemp(), 'ort')
    session = ort.InferenceSession(model_bytes(path), opts, providers=['CPUExecutionProvider'])
    batch = np.load(os.path.splitext(path)[0] + '.npz')['image']
    feed = {session.get_inputs()[0].name: batch}
    for _ in range(warmup + iters):
        session.run(None, feed)
    with open(session.end_profiling()) as f:
        events = json.load(f)
    runs = [e for e in events if e.get('cat') == 'Session' and e['name'] == 'model_run']
    # Each run's node events lie inside its model_run span; only the timed runs count.
    timed = runs[warmup:]
    nodes = collections.OrderedDict()
    for e in events:
        if e.get('cat') != 'Node' or not e['name'].endswith('_kernel_time'):
            continue
        run = next((i for i, r in enumerate(timed)
                    if r['ts'] <= e['ts'] <= r['ts'] + r['dur']), None)
        if run is None:
            continue
        args = e.get('args', {})
        node = nodes.setdefault(e['name'][:-len('_kernel_time')], {
            'op': args.get('op_name', '?'),
            'shape': [list(s.values())[0] for s in args.get('output_type_shape', [])],
            'activation': args.get('activation', ''),
            'ms': [0.0] * len(timed)})
        node['ms'][run] += e['dur'] * 1e-3
    return nodes, [r['dur'] * 1e-3 for r in timed]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('onnx')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--iters', type=int, default=10)
    ap.add_argument('--warmup', type=int, default=2)
    ap.add_argument('--top', type=int, default=40, help='rows to print (0: all)')
    ap.add_argument('--json', help='write every node\'s samples here')
    args = ap.parse_args()
    nodes, totals = profile(args.onnx, args.threads, args.iters, args.warmup)
    rows = sorted(((statistics.median(n['ms']), name, n) for name, n in nodes.items()),
                  key=lambda r: -r[0])
    by_op = collections.Counter()
    for ms, _, n in rows:
        by_op[n['op']] += ms
    print('ONNX Runtime %s, %d thread(s), median of %d runs: %.2f ms a run, %.2f ms in nodes'
          % (ort.__version__, args.threads, len(totals), statistics.median(totals),
             sum(r[0] for r in rows)))
    print('  by op type: ' + ', '.join('%s %.2f' % kv for kv in by_op.most_common()))
    print('  %8s  %-22s %-14s %s' % ('ms', 'op', 'output', 'node'))
    for ms, name, n in rows[:args.top or len(rows)]:
        print('  %8.3f  %-22s %-14s %s' % (ms, n['op'] + ('+' + n['activation'] if
                                                       n['activation'] else ''),
                                          'x'.join(map(str, n['shape'][0] if n['shape']
                                                       else [])), name))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'onnxruntime': ort.__version__, 'threads': args.threads,
                       'run_ms': totals, 'nodes': nodes}, f, indent=1)


if __name__ == '__main__':
    main()
