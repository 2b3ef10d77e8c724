"""Talking to a real tritonserver with the yolact backend (server_process.py runs it) with
tritonclient, and what yolact-detect says for the same images: shared by the Triton test
(test/triton/test_triton.py) and the load test (bench/triton_load.py).
"""
import json
import os
import subprocess

import numpy as np
from PIL import Image

from server_process import MODEL, ROOT

PARITY = os.path.join(ROOT, "test", "data", "parity")
WEIGHTS = os.path.join(PARITY, "yolact_tiny_seed1_fp16_zip.pth")
IMAGES = [os.path.join(PARITY, name) for name in ("coffee.png", "astronaut.png")]
# The outputs a parity check reads (MASKS_BITS, large, only where asked for).
OUTPUTS = ["COUNT", "CLASSES", "CATEGORY_IDS", "SCORES", "BOXES", "MASKS_RLE"]


def bgr_pixels(path):
    """The image as the raw IMAGE input wants it: height x width x 3, BGR, uint8."""
    with Image.open(path) as image:
        return np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])


def file_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def make_inputs(client_module, kind, path):
    """The one input of a request: 'raw' pixels or the 'encoded' file."""
    if kind == "raw":
        pixels = bgr_pixels(path)[None]
        tensor = client_module.InferInput("IMAGE", list(pixels.shape), "UINT8")
        tensor.set_data_from_numpy(pixels)
    else:
        tensor = client_module.InferInput("IMAGE_BYTES", [1, 1], "BYTES")
        tensor.set_data_from_numpy(np.array([[file_bytes(path)]], dtype=object))
    return [tensor]


def requested_outputs(client_module, names=OUTPUTS):
    return [client_module.InferRequestedOutput(name) for name in names]


def detections(result):
    """A response's detections in the terms of yolact-detect -o's COCO records: category id,
    score, the box truncated to pixels as [x, y, w, h], the RLE; boxes of no area left out,
    as yolact-detect (and eval.py) do."""
    count = int(result.as_numpy("COUNT")[0][0])
    ids, scores = result.as_numpy("CATEGORY_IDS")[0], result.as_numpy("SCORES")[0]
    boxes, rles = result.as_numpy("BOXES")[0], result.as_numpy("MASKS_RLE")[0]
    if not (len(ids) == len(scores) == len(boxes) == len(rles) == count):
        raise AssertionError(f"outputs disagree on the count {count}")
    out = []
    for i in range(count):
        x1, y1, x2, y2 = (int(v) for v in boxes[i])
        if (x2 - x1) * (y2 - y1) <= 0:
            continue
        rle = rles[i].decode() if isinstance(rles[i], bytes) else str(rles[i])
        out.append((int(ids[i]), float(np.float32(scores[i])), [x1, y1, x2 - x1, y2 - y1], rle))
    return out


def reference_detections(yolact_detect, image, json_path):
    """yolact-detect's COCO records for one image, CPU backend, default options."""
    subprocess.run([yolact_detect, "-m", WEIGHTS, "--backend", "cpu", "-o", json_path, image],
                   check=True, stdout=subprocess.DEVNULL)
    with open(json_path) as f:
        records = json.load(f)
    return [(r["category_id"], float(np.float32(r["score"])), r["bbox"],
             r["segmentation"]["counts"]) for r in records]
