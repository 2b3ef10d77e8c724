"""DLPack input (dmlc/dlpack's dlpack.h, the Python array API's __dlpack__ protocol): an
object's tensor borrowed in place, CPU memory as a host image and CUDA memory as device memory,
and handed back to its producer (the deleter called once) when the call is done."""

from __future__ import annotations

import ctypes
import math
from ctypes import (POINTER, Structure, c_char_p, c_int, c_int32, c_int64, c_uint8, c_uint16,
                    c_uint32, c_uint64, c_void_p, py_object)
from typing import Any, Callable, Optional, Tuple

from . import _lib

# DLDeviceType values this package reads, and how libyolact sees their memory.
KDL_CPU, KDL_CUDA, KDL_CUDA_HOST = 1, 2, 3
MEMORY = {KDL_CPU: _lib.MEMORY_HOST, KDL_CUDA_HOST: _lib.MEMORY_HOST,
          KDL_CUDA: _lib.MEMORY_DEVICE}
KDL_UINT = 1
# The newest DLPack ABI this module reads: DLManagedTensorVersioned of major version 1.
MAX_VERSION = (1, 0)


class DLDevice(Structure):
    _fields_ = [("device_type", c_int32), ("device_id", c_int32)]


class DLDataType(Structure):
    _fields_ = [("code", c_uint8), ("bits", c_uint8), ("lanes", c_uint16)]


class DLTensor(Structure):
    _fields_ = [("data", c_void_p), ("device", DLDevice), ("ndim", c_int32),
                ("dtype", DLDataType), ("shape", POINTER(c_int64)),
                ("strides", POINTER(c_int64)), ("byte_offset", c_uint64)]


class DLPackVersion(Structure):
    _fields_ = [("major", c_uint32), ("minor", c_uint32)]


class DLManagedTensor(Structure):
    pass


class DLManagedTensorVersioned(Structure):
    pass


# Deleters are called with the GIL held (PYFUNCTYPE): a producer's deleter may touch Python
# objects, and one that takes the GIL itself takes it again safely.
LegacyDeleter = ctypes.PYFUNCTYPE(None, POINTER(DLManagedTensor))
VersionedDeleter = ctypes.PYFUNCTYPE(None, POINTER(DLManagedTensorVersioned))
DLManagedTensor._fields_ = [("dl_tensor", DLTensor), ("manager_ctx", c_void_p),
                            ("deleter", LegacyDeleter)]
DLManagedTensorVersioned._fields_ = [("version", DLPackVersion), ("manager_ctx", c_void_p),
                                     ("deleter", VersionedDeleter), ("flags", c_uint64),
                                     ("dl_tensor", DLTensor)]

# Capsule names; the "used_" ones are kept alive here for good: PyCapsule_SetName keeps the
# pointer, not a copy.
NAMES = {False: b"dltensor", True: b"dltensor_versioned"}
USED = {False: ctypes.create_string_buffer(b"used_dltensor"),
        True: ctypes.create_string_buffer(b"used_dltensor_versioned")}

_api = ctypes.pythonapi
_api.PyCapsule_IsValid.restype, _api.PyCapsule_IsValid.argtypes = c_int, [py_object, c_char_p]
_api.PyCapsule_GetPointer.restype = c_void_p
_api.PyCapsule_GetPointer.argtypes = [py_object, c_char_p]
_api.PyCapsule_SetName.restype, _api.PyCapsule_SetName.argtypes = c_int, [py_object, c_void_p]

# A borrowed tensor's layout: data pointer, shape, strides in bytes, libyolact memory kind.
Layout = Tuple[int, Tuple[int, ...], Tuple[int, ...], int]


def _capsule(obj: Any, device_type: int) -> Any:
    """obj.__dlpack__ as the protocol asks a consumer to call it: the newest ABI this module
    reads offered (max_version; a producer older than DLPack 1.0 takes no such argument), and
    on CUDA stream -1: the producer must not synchronise with a stream of ours, since
    libyolact's session reads on its own stream, which waits on no other; the caller
    synchronises first, as for __cuda_array_interface__."""
    stream = -1 if device_type == KDL_CUDA else None
    try:
        return obj.__dlpack__(stream=stream, max_version=MAX_VERSION)
    except TypeError:
        return obj.__dlpack__(stream=stream)


class Borrowed:
    """A tensor taken from its capsule: the capsule renamed "used_...", so its producer no
    longer frees it, and the deleter called exactly once by release()."""

    def __init__(self, obj: Any) -> None:
        device_type, _ = obj.__dlpack_device__()
        capsule = _capsule(obj, device_type)
        self._release: Optional[Callable[[], None]] = None
        versioned = bool(_api.PyCapsule_IsValid(capsule, NAMES[True]))
        if not versioned and not _api.PyCapsule_IsValid(capsule, NAMES[False]):
            raise TypeError("__dlpack__ gave no unused DLPack capsule (named 'dltensor' or "
                            "'dltensor_versioned')")
        address = _api.PyCapsule_GetPointer(capsule, NAMES[versioned])
        kind = DLManagedTensorVersioned if versioned else DLManagedTensor
        managed = ctypes.cast(address, POINTER(kind))
        _api.PyCapsule_SetName(capsule, USED[versioned])  # ours now: we call the deleter
        deleter = managed.contents.deleter
        self._release = (lambda: deleter(managed)) if deleter else (lambda: None)
        try:
            if versioned and managed.contents.version.major != MAX_VERSION[0]:
                v = managed.contents.version
                raise TypeError(f"DLPack tensor of ABI version {v.major}.{v.minor}; this "
                                f"package reads {MAX_VERSION[0]}.x")
            self.layout = _layout(managed.contents.dl_tensor)
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        """Hand the tensor back to its producer (idempotent)."""
        release, self._release = self._release, None
        if release is not None:
            release()


def _layout(t: DLTensor) -> Layout:
    if t.device.device_type not in MEMORY:
        raise TypeError(f"DLPack tensor on device type {t.device.device_type}; libyolact "
                        "reads CPU (1), CUDA (2) and pinned CUDA host (3) memory")
    if (t.dtype.code, t.dtype.bits, t.dtype.lanes) != (KDL_UINT, 8, 1):
        raise TypeError(f"DLPack tensor dtype is (code {t.dtype.code}, {t.dtype.bits} bits, "
                        f"{t.dtype.lanes} lanes); libyolact takes uint8 pixels")
    shape = tuple(t.shape[i] for i in range(t.ndim))
    # NULL strides: compact row-major (DLPack before 1.2 allows it). Elements are bytes.
    strides = (tuple(t.strides[i] for i in range(t.ndim)) if t.strides else
               tuple(math.prod(shape[i + 1:]) for i in range(t.ndim)))
    return (t.data or 0) + t.byte_offset, shape, strides, MEMORY[t.device.device_type]

