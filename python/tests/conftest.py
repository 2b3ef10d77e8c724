"""Shared fixtures: the repository's bundled parity checkpoint and images, one Model for the
whole run (its first CPU session converts the weights once), and yolact-detect's output for
the same weights and options."""

import json
import os
import subprocess
from pathlib import Path

import pytest

import yolact

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "test" / "data" / "parity"
WEIGHTS = DATA / "yolact_tiny_seed1_fp16_zip.pth"
PRESET = "yolact_resnet50"
IMAGES = {"coffee": DATA / "coffee.png", "astronaut": DATA / "astronaut.png"}
# The CLI that the parity test compares with: the repository's build unless said otherwise.
CLI = Path(os.environ.get("YOLACT_DETECT", REPO / "build" / "yolact-detect"))
# Bit-for-bit comparisons with the CLI need both to run the same convolution algorithms: the
# fixed rule, as the C suites pin it, not a choice each process times for itself.
os.environ.setdefault("YOLACT_CPU_CONV", "fixed")


@pytest.fixture(scope="session")
def model() -> yolact.Model:
    return yolact.Model(WEIGHTS, preset=PRESET)


@pytest.fixture(scope="session")
def singles(model):
    """Each image's Result from its own detect call on a CPU session with default options."""
    with model.session(backend="cpu") as session:
        return {name: session.detect(path) for name, path in IMAGES.items()}


@pytest.fixture(scope="session")
def cli_output(tmp_path_factory):
    """yolact-detect's COCO JSON records and overlay pixels per image, same options."""
    if not CLI.is_file():
        pytest.fail(f"{CLI} is missing: run `make` first (or set YOLACT_DETECT)")
    out = tmp_path_factory.mktemp("cli")
    records, overlays = {}, {}
    for name, path in IMAGES.items():
        subprocess.run([str(CLI), "-m", str(WEIGHTS), "-c", PRESET, "--backend", "cpu",
                        "-o", str(out / f"{name}.json"), "--overlay", str(out / f"{name}.png"),
                        str(path)], check=True, stdout=subprocess.DEVNULL)
        records[name] = json.loads((out / f"{name}.json").read_text())
        overlays[name] = yolact.load_image(out / f"{name}.png", channels="rgb")
    return records, overlays
