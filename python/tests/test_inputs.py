"""Every kind of image detect takes gives the same detections as the file's path; what it
cannot read in place is refused with a clear exception (never copied behind the caller's
back, never a crash)."""

import re
from pathlib import Path

import numpy as np
import pytest

import yolact
from conftest import IMAGES, WEIGHTS

COFFEE = IMAGES["coffee"]


def same(a: yolact.Result, b: yolact.Result) -> None:
    assert len(a) == len(b) > 0
    assert np.array_equal(a.classes, b.classes)
    assert np.array_equal(a.scores, b.scores)
    assert np.array_equal(a.boxes, b.boxes)
    assert a.to_coco(0) == b.to_coco(0)


class Interface:
    """Not a numpy array: only the array interface protocol."""

    def __init__(self, array: np.ndarray) -> None:
        self.__array_interface__ = array.__array_interface__
        self._array = array


class DLPackOnly:
    """Not a numpy array: only DLPack's __dlpack__ and __dlpack_device__ (numpy's, so a real
    producer's capsule and deleter); `legacy`: as a producer older than DLPack 1.0, which
    takes no max_version and gives the unversioned capsule."""

    def __init__(self, array: np.ndarray, legacy: bool = False) -> None:
        self._array, self._legacy = array, legacy

    def __dlpack__(self, stream=None, **kwargs):
        if self._legacy and kwargs:
            raise TypeError(f"__dlpack__() got unexpected keyword arguments {list(kwargs)}")
        return self._array.__dlpack__(stream=stream, **kwargs)

    def __dlpack_device__(self):
        return self._array.__dlpack_device__()


@pytest.fixture(scope="module")
def session(model):
    with model.session(backend="cpu") as s:
        yield s


@pytest.fixture(scope="module")
def bgr():
    return yolact.load_image(COFFEE)


def padded(array: np.ndarray) -> np.ndarray:
    """The same pixels in rows 17 pixels longer: read in place with that row stride."""
    wide = np.zeros((array.shape[0], array.shape[1] + 17, 3), np.uint8)
    wide[:, 5:5 + array.shape[1]] = array
    return wide[:, 5:5 + array.shape[1]]


@pytest.mark.parametrize("kind", ["str", "Path", "bytes", "bytearray", "bgr", "rgb",
                                  "padded rows", "__array_interface__", "__dlpack__",
                                  "__dlpack__ legacy", "__dlpack__ padded rows"])
def test_input_kinds(kind, session, singles, bgr):
    image, channels = {
        "str": (str(COFFEE), "bgr"),
        "Path": (Path(COFFEE), "bgr"),
        "bytes": (COFFEE.read_bytes(), "bgr"),
        "bytearray": (bytearray(COFFEE.read_bytes()), "bgr"),
        "bgr": (bgr, "bgr"),
        "rgb": (np.ascontiguousarray(bgr[..., ::-1]), "rgb"),
        "padded rows": (padded(bgr), "bgr"),
        "__array_interface__": (Interface(bgr), "bgr"),
        "__dlpack__": (DLPackOnly(bgr), "bgr"),
        "__dlpack__ legacy": (DLPackOnly(bgr, legacy=True), "bgr"),
        "__dlpack__ padded rows": (DLPackOnly(padded(bgr)), "bgr"),
    }[kind]
    same(session.detect(image, channels=channels), singles["coffee"])


def test_load_image_orders(bgr):
    rgb = yolact.load_image(COFFEE.read_bytes(), channels="rgb")
    assert rgb.shape == (400, 600, 3) and rgb.flags.c_contiguous
    assert np.array_equal(rgb, bgr[..., ::-1])


def test_batch_equals_singles(session, singles):
    results = session.detect_batch([IMAGES[n] for n in singles])
    for r, name in zip(results, singles):
        same(r, singles[name])
    assert session.detect_batch([]) == []


def test_results_outlive_the_next_call_and_the_session(model, singles):
    with model.session(backend="cpu") as s:
        first = s.detect(IMAGES["coffee"])
        scores, masks = first.scores.copy(), first.masks.copy()
        s.detect(IMAGES["astronaut"])
    same(first, singles["coffee"])
    assert np.array_equal(first.scores, scores) and np.array_equal(first.masks, masks)
    assert first.draw(COFFEE).shape == (400, 600, 3)


@pytest.mark.parametrize("image, error, text", [
    (np.zeros((8, 8, 3), np.float32), TypeError, "dtype is float32"),
    (np.zeros((8, 8), np.uint8), ValueError, "shape is (8, 8)"),
    (np.zeros((8, 8, 4), np.uint8), ValueError, "shape is (8, 8, 4)"),
    (np.zeros((8, 16, 3), np.uint8)[:, ::2], ValueError, "ascontiguousarray"),
    (np.zeros((8, 8, 3), np.uint8)[::-1], ValueError, "ascontiguousarray"),
    (np.zeros((3, 8, 8), np.uint8).transpose(1, 2, 0), ValueError, "ascontiguousarray"),
    (np.zeros((8, 8, 6), np.uint8)[..., ::2], ValueError, "ascontiguousarray"),
    (DLPackOnly(np.zeros((8, 8, 3), np.float32)), TypeError, "takes uint8 pixels"),
    (DLPackOnly(np.zeros((8, 16, 3), np.uint8)[:, ::2]), ValueError, "ascontiguousarray"),
    (42, TypeError, "cannot read an image from int"),
])
def test_bad_arrays_refused(session, image, error, text):
    with pytest.raises(error, match=re.escape(text)):
        session.detect(image)


def test_library_errors_carry_status_and_message(session, model, tmp_path):
    with pytest.raises(yolact.Error) as e:
        session.detect(b"not an image")
    assert e.value.status in (yolact.Status.FORMAT, yolact.Status.UNSUPPORTED)
    assert e.value.message and e.value.message in str(e.value)
    with pytest.raises(yolact.Error) as e:
        session.detect(tmp_path / "missing.png")
    assert e.value.status == yolact.Status.IO and "missing.png" in e.value.message
    with pytest.raises(yolact.Error) as e:
        session.detect(np.zeros((0, 8, 3), np.uint8))
    assert e.value.status == yolact.Status.INVALID_ARGUMENT
    with pytest.raises(yolact.Error) as e:
        model.session(top_k=0)
    assert e.value.status == yolact.Status.INVALID_ARGUMENT and "top-k" in str(e.value)
    with pytest.raises(ValueError, match="backend must be one of"):
        model.session(backend="tpu")
    with pytest.raises(ValueError, match="channels must be one of"):
        session.detect(COFFEE, channels="bgra")
    with pytest.raises(ValueError, match="the result's 600x400"):
        session.detect(COFFEE).draw(np.zeros((10, 10, 3), np.uint8))


def test_corrupt_and_missing_weights(tmp_path):
    truncated = tmp_path / "yolact_resnet50_1_1.pth"
    truncated.write_bytes(WEIGHTS.read_bytes()[:100_000])
    with pytest.raises(yolact.Error) as e:
        yolact.Model(truncated)
    assert e.value.status == yolact.Status.FORMAT and e.value.message
    with pytest.raises(yolact.Error) as e:
        yolact.Model(tmp_path / "none.pth")
    assert e.value.status == yolact.Status.IO


def test_closed_session(model):
    s = model.session(backend="cpu")
    s.close()
    s.close()  # idempotent
    with pytest.raises(ValueError, match="closed session"):
        s.detect(COFFEE)
    assert "closed" in repr(s)


def test_cuda_array(model, singles):
    """A GPU array is read in place by a CUDA session (skipped without one)."""
    try:
        import torch
    except ImportError:
        pytest.skip("a CUDA array needs PyTorch (or CuPy) and a GPU; this environment has "
                    "no PyTorch")
    if not torch.cuda.is_available():
        pytest.skip("no usable GPU: torch.cuda.is_available() is False")
    bgr = yolact.load_image(COFFEE)
    device = torch.from_numpy(bgr).cuda()
    torch.cuda.synchronize()  # the C API reads the frame without waiting on torch's stream
    with model.session(backend="cuda") as s:
        on_gpu, on_host = s.detect(device), s.detect(bgr)
    same(on_gpu, on_host)
