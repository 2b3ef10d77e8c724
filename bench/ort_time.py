"""Time the official YOLACT network exported by bench/official_onnx.py with ONNX Runtime on
the CPU (CPUExecutionProvider, default graph optimisations, intra_op_num_threads = the
thread count, inter_op 1). Run with the venv's python that has onnxruntime and onnx
(`make bench-compare-ort` makes one; bench/README.md).

    ort_time.py NET.onnx --check              ORT's outputs against PyTorch's (NET.npz)
    ort_time.py NET.onnx --threads 1,2 [--iters N] [--warmup N] [--input BATCH.npy]
    ort_time.py NET.onnx --serve              for bench/compare: reads lines
                                              'THREADS ITERS WARMUP BATCH.npy' on stdin,
                                              answers each with one JSON line of ms samples

Without --input the batch is the one in NET.npz. A model holding yolact_private::DeformConv
(YOLACT++'s DCN) is loaded with those nodes renamed to ONNX's DeformConv and its default
opset raised to 19, where that op is defined; the file is not changed.
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort

PRIVATE_DOMAIN = 'yolact_private'  # bench/official_onnx.py's
DEFORM_CONV_OPSET = 19


def model_bytes(path):
    """The model as ORT should load it: private DeformConv nodes moved to ONNX's domain."""
    model = onnx.load(path)
    private = [n for n in model.graph.node if n.domain == PRIVATE_DOMAIN]
    if not private:
        return model.SerializeToString()
    for node in private:
        node.domain = ''
    imports = [o for o in model.opset_import if o.domain != PRIVATE_DOMAIN]
    del model.opset_import[:]
    for o in imports:
        if o.domain in ('', 'ai.onnx'):
            o.version = max(o.version, DEFORM_CONV_OPSET)
        model.opset_import.append(o)
    return model.SerializeToString()


class Sessions:
    """One ORT session per thread count, made at first use."""

    def __init__(self, path):
        self.model = model_bytes(path)
        self.by_threads = {}

    def get(self, threads):
        if threads not in self.by_threads:
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
            self.by_threads[threads] = ort.InferenceSession(
                self.model, opts, providers=['CPUExecutionProvider'])
        return self.by_threads[threads]

    def time(self, threads, batch, iters, warmup):
        session = self.get(threads)
        feed = {session.get_inputs()[0].name: batch}
        samples = []
        for i in range(warmup + iters):
            t0 = time.perf_counter()
            session.run(None, feed)
            if i >= warmup:
                samples.append(1e3 * (time.perf_counter() - t0))
        return samples


def check(path):
    """Largest difference of each output from PyTorch's, against its largest magnitude."""
    ref = np.load(os.path.splitext(path)[0] + '.npz')
    session = Sessions(path).get(1)
    outputs = session.run(None, {session.get_inputs()[0].name: ref['image']})
    worst = 0.0
    for meta, got in zip(session.get_outputs(), outputs):
        want = ref[meta.name]
        diff = float(np.abs(got - want).max())
        scale = float(np.abs(want).max()) or 1.0
        worst = max(worst, diff / scale)
        print('%-6s %-18s max |ORT - PyTorch| %.3g (largest |value| %.3g)'
              % (meta.name, 'x'.join(map(str, got.shape)), diff, scale))
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('model')
    ap.add_argument('--check', action='store_true')
    ap.add_argument('--serve', action='store_true')
    ap.add_argument('--threads', default='1,2')
    ap.add_argument('--iters', type=int, default=5)
    ap.add_argument('--warmup', type=int, default=1)
    ap.add_argument('--input', help='the network input (.npy); default: NET.npz\'s')
    args = ap.parse_args()
    if args.check:
        worst = check(args.model)
        print('worst relative difference %.3g' % worst)
        return 0 if worst < 1e-3 else 1
    sessions = Sessions(args.model)
    if args.serve:
        print(json.dumps({'onnxruntime': ort.__version__, 'onnx': onnx.__version__}),
              flush=True)
        for line in sys.stdin:
            threads, iters, warmup, batch = line.split()
            samples = sessions.time(int(threads), np.load(batch), int(iters), int(warmup))
            print(json.dumps({'threads': int(threads), 'samples': samples}), flush=True)
        return 0
    batch = np.load(args.input) if args.input else \
        np.load(os.path.splitext(args.model)[0] + '.npz')['image']
    for t in (int(t) for t in args.threads.split(',')):
        samples = sessions.time(t, batch, args.iters, args.warmup)
        print('onnxruntime %s, %d thread%s: median %.1f ms of %d [%s]'
              % (ort.__version__, t, '' if t == 1 else 's', statistics.median(samples),
                 len(samples), ', '.join('%.1f' % s for s in samples)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
