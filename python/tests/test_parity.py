"""The package gives what the C library gives: yolact-detect's JSON record for record (scores
bit for bit, RLE byte for byte), its overlay pixel for pixel, and the official outputs pass
the parity gate."""

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import DATA, IMAGES, REPO

GATE = REPO.parent / "shared" / "tools" / "compare.py"


def f32_bits(x: float) -> int:
    return int(np.float32(x).view(np.uint32))


@pytest.mark.parametrize("name", IMAGES)
def test_records_equal_cli(name, singles, cli_output):
    ours = json.loads(json.dumps(singles[name].to_coco(name)))  # through JSON, as users do
    theirs = cli_output[0][name]
    assert len(ours) == len(theirs) > 0
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert f32_bits(a.pop("score")) == f32_bits(b.pop("score")), f"record {i}: score"
        assert a == b, f"record {i}"


@pytest.mark.parametrize("name", IMAGES)
def test_draw_equals_cli_overlay(name, singles, cli_output):
    overlay = singles[name].draw(IMAGES[name], channels="rgb")
    np.testing.assert_array_equal(overlay, cli_output[1][name])
    bgr = singles[name].draw(IMAGES[name])
    np.testing.assert_array_equal(bgr, overlay[..., ::-1])


@pytest.mark.parametrize("name", IMAGES)
def test_official_parity_gate(name, singles, tmp_path):
    if not GATE.is_file():
        pytest.skip(f"the parity gate {GATE} is not beside this checkout")
    ours = tmp_path / "ours.json"
    ours.write_text(json.dumps(singles[name].to_coco(name)))
    gate = subprocess.run([sys.executable, str(GATE), str(ours), str(DATA / f"{name}.json"),
                           "--masks-ref", str(DATA / f"{name}.masks.npz"), "--image-id", name,
                           "--ref-coco-ids"], capture_output=True, text=True)
    assert gate.returncode == 0, gate.stdout + gate.stderr
    assert gate.stdout.rstrip().endswith("PASS")


def test_result_arrays(model, singles):
    r = singles["coffee"]
    n = len(r)
    assert r.classes.shape == r.scores.shape == r.mask_scores.shape == (n,)
    assert r.boxes.shape == (n, 4) and r.boxes.dtype == np.float32
    assert r.masks.shape == (n, r.height, r.width) and r.masks.dtype == bool
    assert r.class_names == [model.class_names[c] for c in r.classes]
    assert np.all(np.diff(r.scores) <= 0)
    assert np.array_equal(r.mask_scores, r.scores)  # YOLACT: no re-scoring
    # The masks decode the RLE the library wrote (COCO's column-major runs).
    for mask, record in zip(r.masks, r.to_coco(0)):
        runs = rle_decode(record["segmentation"]["counts"])
        flat = np.repeat(np.arange(len(runs)) % 2, runs).astype(bool)
        assert np.array_equal(flat.reshape(r.width, r.height).T, mask)


def rle_decode(counts: str) -> list:
    """COCO's compressed RLE string to run lengths (pycocotools' rleFrString)."""
    runs, i = [], 0
    while i < len(counts):
        x, k, more = 0, 0, True
        while more:
            c = ord(counts[i]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            i, k = i + 1, k + 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        if len(runs) > 2:
            x += runs[-2]
        runs.append(x)
    return runs
