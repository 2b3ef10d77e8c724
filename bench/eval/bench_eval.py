#!/usr/bin/env python3
"""yolact-eval against pycocotools on the same files: a generated data set at COCO val2017's
scale and statistics (5,000 images of about 640x480, 80 categories, about 7.3 objects an
image as polygons, about 1% crowds as runs) and 100 detections an image (box, score and
compressed-RLE mask, as yolact-detect writes them; a share of them near an object, the rest
anywhere). Each tool evaluates boxes and masks (pycocotools: COCO(), loadRes, then
COCOeval's evaluate, accumulate, summarize for bbox and for segm); the wall-clock median of
--runs runs of each, taken in turn, is reported, with the largest difference between their
24 numbers.

    python bench/eval/bench_eval.py --yolact-eval build/yolact-eval [--runs 3] [--json OUT]

Needs numpy and pycocotools (make bench-eval makes a venv with them).
"""
import argparse
import contextlib
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "test", "eval"))
from compare_pycocotools import uncompressed_runs  # noqa: E402  (the crowds' runs)

COCO_IDS = [i for i in range(1, 91) if i not in
            (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]


def polygon(rng, cx, cy, rx, ry, vertices):
    a = np.sort(rng.uniform(0, 2 * np.pi, vertices))
    r = rng.uniform(0.7, 1.0, vertices)
    xy = np.stack([cx + rx * r * np.cos(a), cy + ry * r * np.sin(a)], 1)
    return np.round(xy, 2).reshape(-1).tolist()


def object_size(rng, w, h):
    # Log-normal sides: about half small, a third medium (COCO has more large ones).
    side = float(np.exp(rng.normal(np.log(45), 1.0)))
    side = min(max(side, 4), 0.9 * min(w, h))
    aspect = float(np.exp(rng.normal(0, 0.5)))
    return side * aspect ** 0.5 / 2, side / aspect ** 0.5 / 2


def generate(rng, num_images, dets_per_image):
    images, anns, dets = [], [], []
    weights = rng.dirichlet(np.ones(len(COCO_IDS)) * 0.5)   # a few common categories
    for i in range(num_images):
        image_id = 100000 + i
        w, h = int(rng.choice([640, 480, 500, 427])), int(rng.choice([480, 640, 375, 427]))
        images.append({"id": image_id, "width": w, "height": h,
                       "file_name": f"{image_id:012d}.jpg"})
        objects = []
        for _ in range(int(rng.poisson(7.3))):
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            rx, ry = object_size(rng, w, h)
            cat = int(rng.choice(COCO_IDS, p=weights))
            crowd = int(rng.random() < 0.01)
            poly = polygon(rng, cx, cy, rx, ry, int(rng.integers(8, 40)))
            rle = mask_utils.merge(mask_utils.frPyObjects([poly], h, w))
            if crowd:
                seg = {"size": [h, w], "counts": uncompressed_runs(mask_utils.decode(rle))}
            else:
                seg = [poly]
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": cat,
                         "segmentation": seg, "area": float(mask_utils.area(rle)),
                         "bbox": mask_utils.toBbox(rle).tolist(), "iscrowd": crowd})
            objects.append((cx, cy, rx, ry, cat))
        for d in range(dets_per_image):
            if objects and d < 2 * len(objects):        # near an object, perhaps its class
                cx, cy, rx, ry, cat = objects[d % len(objects)]
                cx += rng.normal(0, 0.15 * rx)
                cy += rng.normal(0, 0.15 * ry)
                rx *= rng.uniform(0.8, 1.25)
                ry *= rng.uniform(0.8, 1.25)
                if rng.random() < 0.2:
                    cat = int(rng.choice(COCO_IDS, p=weights))
                score = rng.beta(4, 2)
            else:
                cx, cy = rng.uniform(0, w), rng.uniform(0, h)
                rx, ry = object_size(rng, w, h)
                cat = int(rng.choice(COCO_IDS, p=weights))
                score = rng.beta(1, 6)
            rle = mask_utils.merge(mask_utils.frPyObjects(
                [polygon(rng, cx, cy, rx, ry, 16)], h, w))
            x0, y0 = max(int(cx - rx), 0), max(int(cy - ry), 0)
            x1, y1 = min(int(cx + rx), w), min(int(cy + ry), h)
            if (x1 - x0) * (y1 - y0) <= 0:
                continue
            dets.append({"image_id": image_id, "category_id": cat,
                         "bbox": [x0, y0, x1 - x0, y1 - y0], "score": float(score),
                         "segmentation": {"size": [h, w], "counts": rle["counts"].decode()}})
    categories = [{"id": c, "name": f"class{c}"} for c in COCO_IDS]
    return {"images": images, "annotations": anns, "categories": categories}, dets


def run_pycocotools(ann_path, res_path):
    stats = []
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(ann_path)
        for iou_type in ("bbox", "segm"):
            e = COCOeval(gt, gt.loadRes(res_path), iou_type)
            e.evaluate()
            e.accumulate()
            e.summarize()
            stats += e.stats.tolist()
    return stats


def run_yolact_eval(binary, ann_path, res_path, json_out, threads):
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    subprocess.run([binary, "--annotations", ann_path, "--results", res_path,
                    "--json-out", json_out], check=True, env=env, stdout=subprocess.DEVNULL)
    with open(json_out) as f:
        out = json.load(f)
    return out["bbox"]["stats"] + out["segm"]["stats"]


def timed(fn):
    t = time.perf_counter()
    result = fn()
    return time.perf_counter() - t, result


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--yolact-eval", required=True)
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--detections", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=2017)
    ap.add_argument("--json", help="write the timings here")
    ap.add_argument("--keep", help="write the generated files to this folder")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    gt, dets = generate(rng, args.images, args.detections)
    print(f"generated {len(gt['images'])} images, {len(gt['annotations'])} annotations, "
          f"{len(dets)} detections in {time.perf_counter() - t0:.0f} s", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or tmp
        os.makedirs(folder, exist_ok=True)
        ann_path, res_path = os.path.join(folder, "gt.json"), os.path.join(folder, "dets.json")
        with open(ann_path, "w") as f:
            json.dump(gt, f)
        with open(res_path, "w") as f:
            json.dump(dets, f)
        sizes = {"annotations_mb": os.path.getsize(ann_path) / 1e6,
                 "results_mb": os.path.getsize(res_path) / 1e6}
        times = {"yolact-eval": [], "yolact-eval 1 thread": [], "pycocotools": []}
        results = {}
        for run in range(args.runs):
            for name in times:
                if name == "pycocotools":
                    fn = lambda: run_pycocotools(ann_path, res_path)
                else:
                    threads = 1 if "1 thread" in name else 0
                    fn = lambda: run_yolact_eval(args.yolact_eval, ann_path, res_path,
                                                 os.path.join(tmp, "out.json"), threads)
                seconds, results[name] = timed(fn)
                times[name].append(seconds)
                print(f"run {run + 1}: {name}: {seconds:.2f} s", flush=True)
    if args.runs == 0:
        return 0
    diff = max(abs(a - b) for a, b in zip(results["yolact-eval"], results["pycocotools"]))
    medians = {k: statistics.median(v) for k, v in times.items()}
    print(f"median of {args.runs}: " + ", ".join(f"{k} {v:.2f} s" for k, v in medians.items()))
    print(f"pycocotools / yolact-eval: {medians['pycocotools'] / medians['yolact-eval']:.1f}x "
          f"({medians['pycocotools'] / medians['yolact-eval 1 thread']:.1f}x on one thread); "
          f"max |difference| of the 24 numbers: {diff:.3g}")
    if args.json:
        commit = subprocess.run(["git", "describe", "--always", "--dirty"],
                                capture_output=True, text=True).stdout.strip()
        with open(args.json, "w") as f:
            json.dump({"what": "yolact-eval vs pycocotools, bbox + segm, same files",
                       "images": len(gt["images"]), "annotations": len(gt["annotations"]),
                       "detections": len(dets), **sizes, "runs": args.runs,
                       "seconds": times, "median_seconds": medians, "max_abs_diff": diff,
                       "machine": {"cpu": platform.processor() or platform.machine(),
                                   "cores": os.cpu_count(),
                                   "loadavg_before": os.getloadavg()},
                       "pycocotools": __import__("pycocotools").__version__
                       if hasattr(__import__("pycocotools"), "__version__") else "2.0.11",
                       "commit": commit, "date": time.strftime("%Y-%m-%d")}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
