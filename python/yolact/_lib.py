"""ctypes declarations of include/yolact.h, and the libyolact they bind: the bundled one, or
the one YOLACT_LIBRARY names (a build's libyolact.so, or build/libyolact-emu.so to run the
CUDA paths on the CPU emulation: `make shared-emu`).

ctypes releases the GIL around every call into a CDLL, so detections on several threads run
in parallel."""

import ctypes
from ctypes import POINTER, c_char_p, c_float, c_int, c_int64, c_size_t, c_uint8, c_void_p
import os
from pathlib import Path

LIBRARY = os.environ.get("YOLACT_LIBRARY") or str(Path(__file__).resolve().parent /
                                                  "libyolact.so")
lib = ctypes.CDLL(LIBRARY)

# Enum values, pinned by the header.
PIXEL_RGB8, PIXEL_BGR8 = 0, 1
MEMORY_HOST, MEMORY_DEVICE = 0, 1
BACKENDS = {"auto": 0, "cpu": 1, "cuda": 2}
PRECISIONS = {"default": 0, "fp32": 1, "fp16": 2}


class Image(ctypes.Structure):
    _fields_ = [("data", c_void_p), ("width", c_int), ("height", c_int), ("stride", c_size_t),
                ("format", c_int), ("memory", c_int)]


class ModelOptions(ctypes.Structure):
    _fields_ = [("struct_size", c_size_t), ("preset", c_char_p),
                ("class_names_path", c_char_p)]


class ModelInfo(ctypes.Structure):
    _fields_ = [("preset", c_char_p), ("preset_source", c_int), ("backbone", c_int),
                ("backbone_stages", c_int), ("stage_depth", c_int * 5),
                ("stage_channels", c_int * 5), ("fpn_channels", c_int),
                ("fpn_downsample_levels", c_int), ("num_levels", c_int),
                ("protonet_layers", c_int), ("protonet_channels", c_int),
                ("num_prototypes", c_int), ("anchors_per_cell", c_int), ("num_classes", c_int),
                ("input_size", c_int), ("num_parameters", c_int64), ("num_unused_keys", c_int),
                ("unused_keys", POINTER(c_char_p)), ("class_names", POINTER(c_char_p)),
                ("stage_dcn", c_int * 5), ("maskiou_layers", c_int),
                ("maskiou_channels", c_int * 8)]


class SessionOptions(ctypes.Structure):
    _fields_ = [("struct_size", c_size_t), ("backend", c_int), ("precision", c_int),
                ("device_index", c_int), ("num_threads", c_int), ("score_threshold", c_float),
                ("top_k", c_int), ("max_detections", c_int), ("conf_threshold", c_float),
                ("nms_threshold", c_float), ("want_rle", c_int), ("batch_size", c_int)]


class Detection(ctypes.Structure):
    _fields_ = [("class_index", c_int), ("class_name", c_char_p), ("category_id", c_int),
                ("score", c_float), ("mask_score", c_float), ("x1", c_float), ("y1", c_float),
                ("x2", c_float), ("y2", c_float), ("mask", POINTER(c_uint8)),
                ("mask_stride", c_size_t), ("rle", c_char_p)]


class Result(ctypes.Structure):
    _fields_ = [("width", c_int), ("height", c_int), ("count", c_int),
                ("detections", POINTER(Detection))]


def _declare(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype, f.argtypes = restype, list(argtypes)


_declare("yolact_version_string", c_char_p)
_declare("yolact_status_string", c_char_p, c_int)
_declare("yolact_last_error", c_char_p)
_declare("yolact_image_load", c_int, c_char_p, POINTER(Image))
_declare("yolact_image_free_pixels", None, POINTER(Image))
_declare("yolact_model_options_init", None, POINTER(ModelOptions))
_declare("yolact_model_load", c_int, c_char_p, POINTER(ModelOptions), POINTER(c_void_p))
_declare("yolact_model_free", None, c_void_p)
_declare("yolact_model_get_info", POINTER(ModelInfo), c_void_p)
_declare("yolact_session_options_init", None, POINTER(SessionOptions))
_declare("yolact_session_create", c_int, c_void_p, POINTER(SessionOptions), POINTER(c_void_p))
_declare("yolact_session_free", None, c_void_p)
_declare("yolact_session_backend", c_int, c_void_p)
_declare("yolact_session_detect", c_int, c_void_p, POINTER(Image), POINTER(POINTER(Result)))
_declare("yolact_session_detect_batch", c_int, c_void_p, POINTER(Image), c_int,
         POINTER(POINTER(Result)))
_declare("yolact_image_draw_detections", None, c_void_p, c_size_t, POINTER(Result), c_int)
