"""YOLACT instance segmentation from Python: a thin binding over libyolact's C API
(include/yolact.h), which this package bundles.

    model = yolact.Model("yolact_resnet50_54_800000.pth")
    with model.session(score_threshold=0.3) as session:
        result = session.detect(cv2.imread("dog.jpg"))  # or a path, PNG/JPEG bytes, RGB
    for name, score, box in zip(result.class_names, result.scores, result.boxes):
        print(name, score, box)
"""

from __future__ import annotations

import contextlib
import ctypes
import enum
import os
import threading
import weakref
from typing import Any, Iterator, List, Optional, Sequence, Union

import numpy as np

from . import _dlpack, _lib
from ._lib import lib

__all__ = ["Error", "Status", "Model", "Session", "Result", "ImageLike", "load_image",
           "__version__"]

__version__: str = lib.yolact_version_string().decode()
"""The version of the bundled libyolact (the package's own)."""

ImageLike = Union[str, "os.PathLike[str]", bytes, Any]
"""A path, encoded PNG/JPEG bytes, an H x W x 3 uint8 array (anything with
`__array_interface__` or DLPack's `__dlpack__`), or a GPU array (`__cuda_array_interface__`
or `__dlpack__` on a CUDA device)."""


class Status(enum.IntEnum):
    """libyolact's status codes (yolact_status), values as the header pins them."""

    OK = 0
    INVALID_ARGUMENT = 1
    OUT_OF_MEMORY = 2
    IO = 3
    FORMAT = 4
    UNSAFE_PICKLE = 5
    UNSUPPORTED = 6
    MODEL = 7
    LIMIT = 8
    BACKEND_UNAVAILABLE = 9
    DEVICE = 10
    INTERNAL = 11


class Error(Exception):
    """A libyolact call failed. `status` is its Status, `message` the library's detail
    (yolact_last_error: which file, which tensor...)."""

    def __init__(self, status: int, message: str) -> None:
        self.status = Status(status)
        self.message = message
        text = lib.yolact_status_string(status).decode()
        super().__init__(f"{text}: {message}" if message else text)


def _check(status: int) -> None:
    # yolact_last_error is per thread, and this thread made the failing call just now.
    if status != Status.OK:
        raise Error(status, lib.yolact_last_error().decode(errors="replace"))


class Model:
    """Weights and architecture, loaded from a `.pth` (zip or legacy) or `.safetensors`
    checkpoint. Read-only once loaded: any number of sessions, on any threads, may share it.
    It is freed when nothing refers to it any more; its sessions and results refer to it.

    `preset`: a preset name (`yolact_base`, `yolact_resnet50`, ...), or None to take it
    from the file name as the official eval.py does. `class_names_path`: a text file with
    one class name per line, for checkpoints with other classes.
    Raises Error (status IO, FORMAT, MODEL, UNSAFE_PICKLE, ...) when the file does not load.
    """

    def __init__(self, path: Union[str, "os.PathLike[str]"], preset: Optional[str] = None,
                 class_names_path: Optional[Union[str, "os.PathLike[str]"]] = None) -> None:
        options = _lib.ModelOptions()
        lib.yolact_model_options_init(ctypes.byref(options))
        options.preset = preset.encode() if preset is not None else None
        if class_names_path is not None:
            options.class_names_path = os.fsencode(class_names_path)
        handle = ctypes.c_void_p()
        _check(lib.yolact_model_load(os.fsencode(path), ctypes.byref(options),
                                     ctypes.byref(handle)))
        self._handle = handle.value
        self._free = weakref.finalize(self, lib.yolact_model_free, self._handle)
        info = lib.yolact_model_get_info(self._handle).contents
        self.preset: str = info.preset.decode()
        """The preset in use (given, from the file's metadata, from the file name, or guessed
        from the shapes)."""
        self.input_size: int = info.input_size
        """S of the network's S x S input."""
        self.class_names: List[str] = [info.class_names[i].decode()
                                       for i in range(info.num_classes - 1)]
        """The class names, background excluded; index = Result.classes' values."""
        self.is_plus: bool = info.maskiou_layers > 0
        """True for YOLACT++ (a mask re-scoring net: Result.mask_scores differ from scores)."""

    def __repr__(self) -> str:
        return f"<yolact.Model {self.preset}, {len(self.class_names)} classes>"

    def session(self, backend: str = "auto", precision: str = "fp32",
                threads: Optional[int] = None, score_threshold: Optional[float] = None,
                top_k: Optional[int] = None, batch_size: Optional[int] = None) -> "Session":
        """A new Session on this model; see Session. Options left at None keep the
        library's defaults (score_threshold 0 as the official code, top_k 200, batch_size 1).

        backend: "auto" (CUDA where a usable GPU is, else CPU), "cpu" or "cuda".
        precision: "fp32", "fp16" (CUDA only) or "default" (the backend's choice).
        threads: CPU threads, None for all cores.
        score_threshold: detections scoring at or below it are dropped.
        top_k: candidates per class kept for NMS.
        batch_size: images the CUDA backend runs through the network at once.
        """
        return Session(self, backend, precision, threads, score_threshold, top_k, batch_size)


def _choice(name: str, value: str, choices: dict) -> int:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return choices[value]


_CHANNELS = {"bgr": _lib.PIXEL_BGR8, "rgb": _lib.PIXEL_RGB8}


def _pixel_image(data: int, shape: Sequence[int], strides: Optional[Sequence[int]],
                 channels: str, memory: int) -> _lib.Image:
    """A yolact_image over pixels in place, after checking the layout the C API reads:
    H x W x 3 bytes, each row's pixels packed, rows any distance >= 3 W apart."""
    fmt = _choice("channels", channels, _CHANNELS)
    if len(shape) != 3 or shape[2] != 3:
        raise ValueError(f"image shape is {tuple(shape)}; libyolact takes H x W x 3 "
                         "(3 channels in the order channels= names)")
    h, w = shape[0], shape[1]
    row, pixel, channel = strides if strides is not None else (3 * w, 3, 1)
    # numpy gives any stride to an axis of length 1 (and to all of an empty array's): it is
    # never stepped over. An empty image is the library's to refuse.
    row = row if h > 1 else 3 * w
    pixel = pixel if w > 1 else 3
    if h * w and (channel != 1 or pixel != 3 or row < 3 * w):
        raise ValueError(f"image strides are {tuple(strides)}; libyolact reads each row's "
                         "pixels packed (strides (>= 3 W, 3, 1)) in place and never copies: "
                         "pass numpy.ascontiguousarray(image)")
    return _lib.Image(data, w, h, row, fmt, memory)


def _array_image(array: np.ndarray, channels: str) -> _lib.Image:
    if array.dtype != np.uint8:
        raise TypeError(f"image dtype is {array.dtype}; libyolact takes uint8 pixels")
    return _pixel_image(array.ctypes.data, array.shape, array.strides, channels,
                        _lib.MEMORY_HOST)


def _cuda_image(cai: dict, channels: str) -> _lib.Image:
    # Passed as device memory: the CUDA session reads it in place, no copy to the host.
    if cai["typestr"][1:] != "u1":
        raise TypeError(f"GPU image typestr is {cai['typestr']!r}; libyolact takes uint8 "
                        "pixels")
    if cai.get("mask") is not None:
        raise ValueError("GPU image has a mask; libyolact takes plain pixels")
    return _pixel_image(cai["data"][0], cai["shape"], cai.get("strides"), channels,
                        _lib.MEMORY_DEVICE)


class _Images:
    """The yolact_images for a call: arrays read in place (kept alive here, DLPack tensors
    handed back to their producers on exit), files and bytes decoded by yolact_image_load and
    freed on exit."""

    def __init__(self, images: Sequence[ImageLike], channels: str) -> None:
        _choice("channels", channels, _CHANNELS)  # for files too: a typo is never ignored
        self.array = (_lib.Image * len(images))()
        self._keep: List[Any] = []
        self._loaded: List[int] = []
        self._borrowed: List[_dlpack.Borrowed] = []
        try:
            for i, image in enumerate(images):
                self.array[i] = self._one(i, image, channels)
        except BaseException:
            self.close()
            raise

    def _one(self, i: int, image: ImageLike, channels: str) -> _lib.Image:
        if isinstance(image, (str, os.PathLike)):
            return self._load(i, os.fsencode(image))
        if isinstance(image, (bytes, bytearray)):
            # The C API decodes files only: hand it the bytes as an in-memory file.
            fd = os.memfd_create("yolact-image")
            try:
                with open(fd, "wb", closefd=False) as f:
                    f.write(image)
                return self._load(i, f"/proc/self/fd/{fd}".encode())
            finally:
                os.close(fd)
        self._keep.append(image)
        if hasattr(image, "__cuda_array_interface__"):
            return _cuda_image(image.__cuda_array_interface__, channels)
        if isinstance(image, np.ndarray) or hasattr(image, "__array_interface__"):
            array = np.asarray(image)
            self._keep.append(array)
            return _array_image(array, channels)
        if hasattr(image, "__dlpack__") and hasattr(image, "__dlpack_device__"):
            borrowed = _dlpack.Borrowed(image)
            self._borrowed.append(borrowed)
            data, shape, strides, memory = borrowed.layout
            return _pixel_image(data, shape, strides, channels, memory)
        raise TypeError(f"cannot read an image from {type(image).__name__}: give a path, "
                        "PNG/JPEG bytes, an H x W x 3 uint8 array or a GPU array")

    def _load(self, i: int, path: bytes) -> _lib.Image:
        image = _lib.Image()
        _check(lib.yolact_image_load(path, ctypes.byref(image)))
        self._loaded.append(i)
        return image

    def close(self) -> None:
        for i in self._loaded:
            lib.yolact_image_free_pixels(ctypes.byref(self.array[i]))
        self._loaded = []
        for borrowed in self._borrowed:
            borrowed.release()
        self._borrowed = []

    def __enter__(self) -> "_Images":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Result:
    """The detections in one image, by descending score, copied out of the session: a
    Result stays valid after the session's next call and after the session is closed.

    Arrays: `classes` (N, int32, index into Model.class_names), `category_ids` (N, int32,
    COCO ids), `scores` and `mask_scores` (N, float32; YOLACT++'s re-scored mask scores,
    equal to `scores` for YOLACT), `boxes` (N x 4 float32: x1 y1 x2 y2 in image pixels),
    `masks` (N x H x W bool, unpacked from the library's bitmasks when first read).
    """

    def __init__(self, result: _lib.Result, model: Model) -> None:
        n, h, w = result.count, result.height, result.width
        self.width: int = w
        self.height: int = h
        self._model = model  # the detections' class_name pointers are the model's
        self._dets = (_lib.Detection * n)()
        ctypes.memmove(self._dets, result.detections, ctypes.sizeof(self._dets))
        row = (w + 7) // 8
        self._packed = np.empty((n, h, row), np.uint8)
        self._rle: List[Optional[str]] = []
        for i, d in enumerate(self._dets):
            rows = np.ctypeslib.as_array(d.mask, (h, d.mask_stride))
            self._packed[i] = rows[:, :row]
            # The copy points at this Result's memory only, so draw() can hand it back.
            d.mask = self._packed[i].ctypes.data_as(ctypes.POINTER(ctypes.c_uint8))
            d.mask_stride = row
            self._rle.append(d.rle.decode() if d.rle is not None else None)
            d.rle = None
        self._masks: Optional[np.ndarray] = None
        d = self._dets
        self.classes: np.ndarray = np.array([x.class_index for x in d], np.int32)
        self.category_ids: np.ndarray = np.array([x.category_id for x in d], np.int32)
        self.class_names: List[str] = [x.class_name.decode() for x in d]
        self.scores: np.ndarray = np.array([x.score for x in d], np.float32)
        self.mask_scores: np.ndarray = np.array([x.mask_score for x in d], np.float32)
        self.boxes: np.ndarray = np.array([(x.x1, x.y1, x.x2, x.y2) for x in d],
                                          np.float32).reshape(n, 4)

    def __len__(self) -> int:
        return len(self._dets)

    def __repr__(self) -> str:
        return f"<yolact.Result {len(self)} detections in {self.width}x{self.height}>"

    @property
    def masks(self) -> np.ndarray:
        """N x H x W bool: the pixel masks at image resolution (made on first use)."""
        if self._masks is None:
            bits = np.unpackbits(self._packed, axis=2, count=self.width, bitorder="big")
            self._masks = bits.view(bool)
        return self._masks

    def to_coco(self, image_id: Union[int, str]) -> List[dict]:
        """COCO results records, as `yolact-detect -o` writes them (and the official
        eval.py --output_coco_json): bbox [x, y, w, h] of the truncated box, RLE
        segmentation, mask_score for YOLACT++; detections whose truncated box has no area
        are left out, as there."""
        records = []
        for d, rle in zip(self._dets, self._rle):
            x1, y1, x2, y2 = int(d.x1), int(d.y1), int(d.x2), int(d.y2)
            if (x2 - x1) * (y2 - y1) <= 0:
                continue
            record = {"image_id": image_id, "category_id": d.category_id,
                      "category_name": d.class_name.decode(),
                      "bbox": [x1, y1, x2 - x1, y2 - y1], "score": d.score}
            if self._model.is_plus:
                record["mask_score"] = d.mask_score
            record["segmentation"] = {"size": [self.height, self.width], "counts": rle}
            records.append(record)
        return records

    def draw(self, image: ImageLike, channels: str = "bgr") -> np.ndarray:
        """The library's overlay (yolact_image_draw_detections: translucent masks, boxes,
        "class: score" labels, as the official eval.py draws them) on a copy of `image`
        (a path, bytes or a host array, as detect takes it), as an H x W x 3 uint8 array
        in the order `channels` names."""
        rgb = _pixels(image, channels, "rgb")
        if rgb.shape[:2] != (self.height, self.width):
            raise ValueError(f"image is {rgb.shape[1]}x{rgb.shape[0]}, the result's "
                             f"{self.width}x{self.height}")
        result = _lib.Result(self.width, self.height, len(self), self._dets)
        lib.yolact_image_draw_detections(rgb.ctypes.data, rgb.strides[0],
                                         ctypes.byref(result), 0)
        return rgb if channels == "rgb" else rgb[..., ::-1].copy()


def _pixels(image: ImageLike, channels: str, order: str) -> np.ndarray:
    """A C-contiguous copy of a host image (read as detect reads it), in `order`."""
    with _Images([image], channels) as images:
        im = images.array[0]
        if im.memory != _lib.MEMORY_HOST:
            raise ValueError("a host image is needed here; copy the GPU array to the host")
        rows = np.ctypeslib.as_array(ctypes.cast(im.data, ctypes.POINTER(ctypes.c_uint8)),
                                     (im.height, im.stride))
        pixels = rows[:, :3 * im.width].reshape(im.height, im.width, 3)
        if im.format != _CHANNELS[order]:
            pixels = pixels[..., ::-1]
        return pixels.copy()  # decoded pixels are freed on leaving


def load_image(image: ImageLike, channels: str = "bgr") -> np.ndarray:
    """Decode a PNG or JPEG file (a path or its bytes) as the library does, with OpenCV's
    imread(IMREAD_COLOR) semantics, into an H x W x 3 uint8 array in the order `channels`
    names (BGR by default, as imread gives)."""
    _choice("channels", channels, _CHANNELS)
    return _pixels(image, "rgb", channels)


def _free_session(handle: int, model: Model) -> None:
    # Holding the model here keeps it alive until its session is freed, whatever the order
    # in which the garbage collector finds them.
    lib.yolact_session_free(handle)


_BACKEND_NAMES = {v: k for k, v in _lib.BACKENDS.items()}


class Session:
    """Everything one inference needs (buffers, threads, a GPU stream), made by
    Model.session(). Use one session per thread: a session refuses a call while another
    thread is in one (RuntimeError). A context manager; close() frees it at once, and a
    closed session raises ValueError. Detection releases the GIL, so sessions on several
    threads run in parallel."""

    def __init__(self, model: Model, backend: str, precision: str, threads: Optional[int],
                 score_threshold: Optional[float], top_k: Optional[int],
                 batch_size: Optional[int]) -> None:
        options = _lib.SessionOptions()
        lib.yolact_session_options_init(ctypes.byref(options))
        options.backend = _choice("backend", backend, _lib.BACKENDS)
        options.precision = _choice("precision", precision, _lib.PRECISIONS)
        options.num_threads = threads or 0
        if score_threshold is not None:
            options.score_threshold = score_threshold
        if top_k is not None:
            options.top_k = top_k
        if batch_size is not None:
            options.batch_size = batch_size
        options.want_rle = 1  # for Result.to_coco
        handle = ctypes.c_void_p()
        _check(lib.yolact_session_create(model._handle, ctypes.byref(options),
                                         ctypes.byref(handle)))
        self.model = model
        self._handle: Optional[int] = handle.value
        self._free = weakref.finalize(self, _free_session, self._handle, model)
        self._lock = threading.Lock()
        self.backend: str = _BACKEND_NAMES[lib.yolact_session_backend(self._handle)]
        """The backend it runs on: "cpu" or "cuda"."""

    def __repr__(self) -> str:
        state = "closed" if self._handle is None else self.backend
        return f"<yolact.Session {state} on {self.model!r}>"

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Free the session's buffers now (idempotent)."""
        with self._exclusive():
            self._handle = None
            self._free()

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        # A C session is not thread-safe: a second thread is refused, never let in.
        if not self._lock.acquire(blocking=False):
            raise RuntimeError("session is in use by another thread; use one session per "
                               "thread")
        try:
            yield
        finally:
            self._lock.release()

    def detect(self, image: ImageLike, channels: str = "bgr") -> Result:
        """Detect every object in one image: a path, PNG/JPEG bytes (decoded by the
        library as OpenCV's imread does), an H x W x 3 uint8 array (numpy or anything with
        `__array_interface__`, read in place; `channels` "bgr" as OpenCV gives it, or
        "rgb"), a DLPack tensor (`__dlpack__`: on the CPU read as a host array), or a GPU
        array (`__cuda_array_interface__` or `__dlpack__`: PyTorch CUDA tensor, CuPy array)
        on the session's GPU, read in place by a CUDA session; synchronise the stream that
        wrote it first. Raises TypeError / ValueError for an image it cannot read in place,
        Error for a failing call."""
        return self.detect_batch([image], channels)[0]

    def detect_batch(self, images: Sequence[ImageLike], channels: str = "bgr") -> List[Result]:
        """detect() for several images at once; results[i] belongs to images[i]. A CUDA
        session runs them through the network batch_size at a time."""
        with self._exclusive():
            if self._handle is None:
                raise ValueError("detect on a closed session")
            if not images:
                return []
            with _Images(images, channels) as ims:
                return self._detect(ims)

    def _detect(self, ims: _Images) -> List[Result]:
        n, handle = len(ims.array), self._handle
        results = (ctypes.POINTER(_lib.Result) * n)()
        if n == 1:
            _check(lib.yolact_session_detect(handle, ims.array, results))
        else:
            _check(lib.yolact_session_detect_batch(handle, ims.array, n, results))
        # Copied now: the session reuses its result buffers at the next call.
        return [Result(r.contents, self.model) for r in results]
