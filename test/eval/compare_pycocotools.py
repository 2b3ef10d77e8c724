#!/usr/bin/env python3
"""yolact-eval against pycocotools on generated data (fixed seed): every summary number, the
printed summary lines and each category's AP must agree within 1e-12.

The ground truth covers what COCO files hold and what pycocotools reads in its own ways:
polygons with many vertices and degenerate ones (repeated, collinear, single points, odd
lengths, outside the image), uncompressed crowd runs, compressed runs, every area range,
empty images, an annotation with id 0, categories without detections or without ground truth. The detections: exact duplicates,
tied scores, boxes partly outside the image, more than 100 in an image; written three ways
(box and mask as yolact-detect writes them, mask only, box only), since pycocotools' loadRes
takes the area and the mask differently for each.
"""
import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

TOLERANCE = 1e-12
CATEGORY_IDS = [1, 2, 3, 5, 8, 13, 21, 34, 55, 89]   # 89: no detections; 55: no ground truth


def star_polygon(rng, cx, cy, radius, vertices):
    angles = np.sort(rng.uniform(0, 2 * np.pi, vertices))
    r = radius * rng.uniform(0.5, 1.0, vertices)
    xy = np.stack([cx + r * np.cos(angles), cy + r * np.sin(angles)], 1)
    if rng.random() < 0.5:
        xy = np.round(xy, rng.integers(0, 3))
    return xy.reshape(-1).tolist()


def degenerate_polygon(rng, cx, cy):
    kind = rng.integers(0, 4)
    if kind == 0:                                   # one point, repeated
        return [cx, cy] * int(rng.integers(3, 6))
    if kind == 1:                                   # collinear
        return [cx, cy, cx + 5, cy + 5, cx + 10, cy + 10]
    if kind == 2:                                   # repeated consecutive vertices
        return [cx, cy, cx, cy, cx + 8, cy, cx + 8, cy, cx + 8, cy + 6]
    return [cx, cy, cx + 7.3, cy + 0.4, cx + 3.1, cy + 9.9, cx]   # odd length: 3 points


def uncompressed_runs(mask):
    """A mask's runs as a COCO crowd's counts list: column-major, from a run of 0s."""
    flat = mask.flatten(order="F").astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))
    return np.diff(np.concatenate([[0], edges])).tolist()


def gt_segmentation(rng, w, h):
    """A segmentation of one object, its form chosen at random, and whether it is a crowd."""
    cx, cy = rng.uniform(-0.1 * w, 1.1 * w), rng.uniform(-0.1 * h, 1.1 * h)
    radius = float(np.exp(rng.uniform(np.log(1.5), np.log(0.6 * max(w, h)))))
    form = rng.choice(["polygon", "polygons", "degenerate", "crowd", "rle"],
                      p=[0.4, 0.2, 0.1, 0.15, 0.15])
    if form == "polygon":
        return [star_polygon(rng, cx, cy, radius, int(rng.integers(3, 200)))], 0
    if form == "polygons":
        parts = [star_polygon(rng, cx + rng.normal(0, radius), cy + rng.normal(0, radius),
                              radius / 2, int(rng.integers(3, 40))) for _ in range(3)]
        parts.append([cx, cy])                      # a lone point after the first
        parts.append([cx, cy, cx + 3, cy + 2])      # two points after the first
        return parts, 0
    if form == "degenerate":
        return [degenerate_polygon(rng, cx, cy), star_polygon(rng, cx, cy, radius, 5)], 0
    m = np.zeros((h, w), np.uint8, order="F")
    x0, y0 = int(np.clip(cx, 0, w - 1)), int(np.clip(cy, 0, h - 1))
    m[y0:y0 + int(radius), x0:x0 + int(radius * 1.3)] = 1
    m &= (rng.random((h, w)) < 0.9).astype(np.uint8)
    rle = mask_utils.encode(np.asfortranarray(m))
    if form == "crowd":
        return {"size": [h, w], "counts": uncompressed_runs(m)}, 1
    return {"size": [h, w], "counts": counts_text(rle)}, 0


def make_ground_truth(rng, num_images):
    images, annotations = [], []
    next_id = 0                                      # id 0 once: pycocotools reads it as unmatched
    for image_id in range(1, num_images + 1):
        w, h = int(rng.integers(40, 640)), int(rng.integers(40, 480))
        images.append({"id": image_id * 7, "width": w, "height": h,
                       "file_name": f"{image_id:012d}.jpg"})
        if rng.random() < 0.1:                       # empty image
            continue
        for _ in range(int(rng.integers(0, 12))):
            seg, crowd = gt_segmentation(rng, w, h)
            rle = to_rle(seg, h, w)
            area = float(mask_utils.area(rle))
            if rng.random() < 0.2:
                area *= rng.uniform(0.5, 2.0)      # files' areas need not be the mask's
            category = int(rng.choice([c for c in CATEGORY_IDS if c != 55]))
            annotations.append({"id": next_id, "image_id": image_id * 7,
                                "category_id": category, "segmentation": seg, "area": area,
                                "bbox": mask_utils.toBbox(rle).tolist(), "iscrowd": crowd})
            next_id += 1
    categories = [{"id": c, "name": f"class{c}", "supercategory": "x"} for c in CATEGORY_IDS]
    return {"images": images, "annotations": annotations, "categories": categories}


def to_rle(seg, h, w):
    if isinstance(seg, list):
        return mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
    if isinstance(seg["counts"], list):
        return mask_utils.frPyObjects(seg, h, w)
    return seg


def counts_text(rle):
    c = rle["counts"]
    return c.decode() if isinstance(c, bytes) else c


def make_detections(rng, gt):
    sizes = {im["id"]: (im["height"], im["width"]) for im in gt["images"]}
    dets = []

    def add(image_id, category, box, score, rle=None):
        h, w = sizes[image_id]
        if rle is None:                              # the box's pixels
            m = np.zeros((h, w), np.uint8, order="F")
            x0, y0 = max(int(box[0]), 0), max(int(box[1]), 0)
            m[y0:max(int(box[1] + box[3]), 0), x0:max(int(box[0] + box[2]), 0)] = 1
            rle = mask_utils.encode(np.asfortranarray(m))
        dets.append({"image_id": image_id, "category_id": category,
                     "bbox": [float(v) for v in box], "score": float(score),
                     "segmentation": {"size": [h, w], "counts": counts_text(rle)}})

    detected = [c for c in CATEGORY_IDS if c != 89]
    for ann in gt["annotations"]:
        if ann["category_id"] == 89 or rng.random() < 0.2:
            continue
        x, y, bw, bh = ann["bbox"]
        jitter = rng.normal(0, rng.uniform(0.01, 0.2), 4) * [bw, bh, bw, bh]
        box = [x + jitter[0], y + jitter[1], max(bw + jitter[2], 1), max(bh + jitter[3], 1)]
        score = round(float(rng.random()), 1)        # coarse: many ties
        h, w = sizes[ann["image_id"]]
        own = to_rle(ann["segmentation"], h, w) if rng.random() < 0.5 else None
        add(ann["image_id"], ann["category_id"], box, score, own)
        if rng.random() < 0.15:                      # an exact duplicate
            dets.append(dict(dets[-1]))
    for im in gt["images"]:
        h, w = im["height"], im["width"]
        n = int(rng.integers(0, 6)) if rng.random() > 0.03 else 130   # over 100 in an image
        for _ in range(n):
            bw, bh = rng.uniform(1, w / 2), rng.uniform(1, h / 2)
            box = [rng.uniform(-bw / 2, w - bw / 2), rng.uniform(-bh / 2, h - bh / 2), bw, bh]
            add(im["id"], int(rng.choice(detected)), box, 0.7 * rng.random())
    return dets


def pycocotools_eval(ann_path, res_path, iou_type):
    gt = COCO(ann_path)
    dt = gt.loadRes(res_path)
    e = COCOeval(gt, dt, iou_type)
    e.evaluate()
    e.accumulate()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        e.summarize()
    prec = e.eval["precision"][:, :, :, 0, 2]
    class_ap = []
    for k in range(prec.shape[2]):
        p = prec[:, :, k]
        class_ap.append(float(np.mean(p[p > -1])) if (p > -1).any() else -1.0)
    return e.stats.tolist(), class_ap, out.getvalue().splitlines()


def run_yolact_eval(command, json_out):
    r = subprocess.run(command + ["--iou-type", "both", "--json-out", json_out],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"yolact-eval failed ({r.returncode}): {r.stderr}")
    with open(json_out) as f:
        return json.load(f), r.stdout.splitlines()


def compare(name, command, ann_path, res_path, tmp):
    """Run yolact-eval (command, which evaluates res_path or writes it), then pycocotools on
    res_path; returns the disagreements."""
    ours, lines = run_yolact_eval(command, os.path.join(tmp, "out.json"))
    worst, failures = 0.0, []
    for iou_type in ("bbox", "segm"):
        with contextlib.redirect_stdout(io.StringIO()):
            stats, class_ap, printed = pycocotools_eval(ann_path, res_path, iou_type)
        got = ours[iou_type]
        pairs = list(zip(got["stats"], stats)) + \
            list(zip([c["ap"] for c in got["per_class"]], class_ap))
        for i, (a, b) in enumerate(pairs):
            d = abs(a - b)
            worst = max(worst, d)
            if d > TOLERANCE:
                failures.append(f"{name} {iou_type} #{i}: yolact-eval {a!r} pycocotools {b!r}")
        start = lines.index(f"Evaluate annotation type *{iou_type}*")
        if lines[start + 1:start + 13] != printed[-12:]:
            failures.append(f"{name} {iou_type}: printed summary differs:\n"
                            + "\n".join(lines[start + 1:start + 13]) + "\n--- pycocotools:\n"
                            + "\n".join(printed[-12:]))
    print(f"{name}: 24 summary numbers and {2 * len(ours['bbox']['per_class'])} per-class APs, "
          f"max |yolact-eval - pycocotools| = {worst:.3g}")
    return failures


def end_to_end(args, tmp):
    """The detection mode on real images: the results file it writes, evaluated by
    pycocotools, must give the numbers it printed."""
    res_path = os.path.join(tmp, "detections.json")
    command = [args.yolact_eval, "-m", args.model, "-c", args.config, "--backend", "cpu",
               "--images", args.image_dir, "--annotations", args.annotations, "-o", res_path]
    return compare("end to end", command, args.annotations, res_path, tmp)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--yolact-eval", required=True)
    ap.add_argument("--num-images", type=int, default=300)
    ap.add_argument("--seed", type=int, default=26)
    ap.add_argument("--keep", help="write the generated files to this folder")
    ap.add_argument("--model", help="also run the detection mode with this checkpoint ...")
    ap.add_argument("--config", help="... its preset ...")
    ap.add_argument("--images", dest="image_dir", help="... over these images ...")
    ap.add_argument("--annotations", help="... listed here, and check what it wrote")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    gt = make_ground_truth(rng, args.num_images)
    dets = make_detections(rng, gt)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or tmp
        os.makedirs(folder, exist_ok=True)
        ann_path = os.path.join(folder, "annotations.json")
        with open(ann_path, "w") as f:
            json.dump(gt, f)
        variants = {
            "box and mask": dets,
            "mask only": [{k: v for k, v in d.items() if k != "bbox"} for d in dets],
            "box only": [{k: v for k, v in d.items() if k != "segmentation"} for d in dets],
        }
        print(f"{len(gt['images'])} images, {len(gt['annotations'])} annotations, "
              f"{len(dets)} detections")
        failures = []
        for name, variant in variants.items():
            res_path = os.path.join(folder, name.replace(" ", "_") + ".json")
            with open(res_path, "w") as f:
                json.dump(variant, f)
            command = [args.yolact_eval, "--annotations", ann_path, "--results", res_path]
            failures += compare(name, command, ann_path, res_path, tmp)
        if args.model:
            failures += end_to_end(args, tmp)
    if failures:
        print("\n".join(failures[:20]))
        sys.exit(1)
    print("yolact-eval agrees with pycocotools")


if __name__ == "__main__":
    main()
