"""The GPU-array paths without a GPU: with YOLACT_LIBRARY naming build/libyolact-emu.so
(`make shared-emu`: libyolact on the CPU emulation of CUDA, test/emu), a CUDA session reads
frames in "device" memory from the emulated cudaMalloc, handed over through
__cuda_array_interface__ and DLPack (versioned and legacy capsules), and must give the host
path's records with no copy of the image on the way."""

import ctypes
from ctypes import POINTER, c_char_p, c_int, c_int64, c_long, c_size_t, c_void_p

import numpy as np
import pytest

import yolact
from yolact import _dlpack
from conftest import IMAGES

lib = yolact._lib.lib
pytestmark = pytest.mark.skipif(
    not hasattr(lib, "yl_emu_counters_get"),
    reason=f"{yolact._lib.LIBRARY} is not the emulated CUDA build: run these with "
           "YOLACT_LIBRARY=build/libyolact-emu.so (make shared-emu)")


class Counters(ctypes.Structure):
    """yl_emu_counters (test/emu/yl_emu_runtime.h), the fields this test reads first."""
    _fields_ = [("allocations", c_long), ("frees", c_long), ("pinned_allocations", c_long),
                ("pinned_frees", c_long), ("live_allocations", c_long),
                ("live_bytes", c_size_t), ("h2d_copies", c_long), ("d2h_copies", c_long),
                ("d2d_copies", c_long), ("h2d_bytes", c_size_t), ("d2h_bytes", c_size_t),
                ("rest", c_long * 64)]  # room for the fields after, and any added later


def counted(call):
    """call()'s value and the emulated runtime's counters over it."""
    lib.yl_emu_counters_reset()
    value = call()
    c = Counters()
    lib.yl_emu_counters_get(ctypes.byref(c))
    return value, c


class CudaArray:
    """A GPU array exposing only __cuda_array_interface__ (version 3, no strides: packed)."""

    def __init__(self, pointer: int, shape: tuple) -> None:
        self.__cuda_array_interface__ = {"shape": shape, "typestr": "|u1",
                                         "data": (pointer, False), "version": 3,
                                         "strides": None, "stream": None}


_capsule_new = ctypes.PYFUNCTYPE(ctypes.py_object, c_void_p, c_char_p, c_void_p)(
    ("PyCapsule_New", ctypes.pythonapi))
_capsule_is_valid = ctypes.PYFUNCTYPE(c_int, c_void_p, c_char_p)(
    ("PyCapsule_IsValid", ctypes.pythonapi))
CapsuleDestructor = ctypes.CFUNCTYPE(None, c_void_p)


class DLPackDevice:
    """A DLPack producer over CUDA memory, as PyTorch and CuPy are: its capsule's destructor
    calls the deleter only while the capsule is unused; records what the consumer asked and
    how often the deleter ran. `versioned=False`: a producer older than DLPack 1.0 (legacy
    capsule, no max_version argument)."""

    def __init__(self, pointer: int, shape: tuple, versioned: bool) -> None:
        self.versioned, self.asked, self.deleted = versioned, [], 0
        self.capsules = []
        kind = _dlpack.DLManagedTensorVersioned if versioned else _dlpack.DLManagedTensor
        deleter_type = _dlpack.VersionedDeleter if versioned else _dlpack.LegacyDeleter
        self._shape = (c_int64 * 3)(*shape)
        self._strides = (c_int64 * 3)(shape[1] * 3, 3, 1)
        self._managed = kind()
        if versioned:
            self._managed.version.major, self._managed.version.minor = 1, 0
        t = self._managed.dl_tensor
        t.data, t.device.device_type, t.device.device_id = pointer, _dlpack.KDL_CUDA, 0
        t.ndim, t.dtype.code, t.dtype.bits, t.dtype.lanes = 3, _dlpack.KDL_UINT, 8, 1
        t.shape, t.strides = self._shape, self._strides
        self._deleter = deleter_type(self._delete)
        self._managed.deleter = self._deleter
        self._name = _dlpack.NAMES[versioned]
        self._destructor = CapsuleDestructor(self._destroy)

    def _delete(self, managed) -> None:
        self.deleted += 1

    def _destroy(self, capsule: int) -> None:
        if _capsule_is_valid(capsule, self._name):
            self._deleter(ctypes.pointer(self._managed))

    def __dlpack_device__(self) -> tuple:
        return _dlpack.KDL_CUDA, 0

    def _capsule(self, stream):
        capsule = _capsule_new(ctypes.addressof(self._managed), self._name,
                               ctypes.cast(self._destructor, c_void_p))
        self.capsules.append(capsule)
        return capsule

    def __dlpack__(self, stream=None, max_version=None):
        if not self.versioned and max_version is not None:
            raise TypeError("__dlpack__() got an unexpected keyword argument 'max_version'")
        self.asked.append({"stream": stream, "max_version": max_version})
        return self._capsule(stream)


def capsule_name(capsule) -> bytes:
    get_name = ctypes.PYFUNCTYPE(c_char_p, ctypes.py_object)(
        ("PyCapsule_GetName", ctypes.pythonapi))
    return get_name(capsule)


@pytest.fixture(scope="module")
def bgr():
    return yolact.load_image(IMAGES["coffee"])


@pytest.fixture(scope="module")
def device_frame(bgr):
    """The image copied into emulated device memory (cudaMalloc, cudaMemcpy)."""
    for name, restype, argtypes in [("cudaMalloc", c_int, [POINTER(c_void_p), c_size_t]),
                                    ("cudaMemcpy", c_int, [c_void_p, c_void_p, c_size_t, c_int]),
                                    ("cudaFree", c_int, [c_void_p])]:
        getattr(lib, name).restype, getattr(lib, name).argtypes = restype, argtypes
    pointer = c_void_p()
    assert lib.cudaMalloc(ctypes.byref(pointer), bgr.nbytes) == 0
    assert lib.cudaMemcpy(pointer, bgr.ctypes.data, bgr.nbytes, 1) == 0  # host to device
    yield pointer.value
    lib.cudaFree(pointer)


@pytest.fixture(scope="module")
def cuda(model, bgr):
    """A CUDA session on the emulation and its result for the host array, with the
    runtime's counters over that call."""
    with model.session(backend="cuda") as s:
        assert s.backend == "cuda"
        yield (s,) + counted(lambda: s.detect(bgr))


def same_as_host(result, counters, cuda, bgr) -> None:
    _, host, host_counters = cuda
    assert len(result) == len(host) > 0
    assert result.to_coco(0) == host.to_coco(0)
    assert np.array_equal(result.masks, host.masks)
    # The host path uploads the frame; read in place, nothing is uploaded, and what comes
    # down is the results alone, as for the host frame: no copy of the image either way.
    assert host_counters.h2d_bytes >= bgr.nbytes
    assert counters.h2d_copies == 0 and counters.h2d_bytes == 0
    assert counters.d2h_bytes == host_counters.d2h_bytes


def test_cuda_array_interface(cuda, device_frame, bgr):
    result, counters = counted(lambda: cuda[0].detect(CudaArray(device_frame, bgr.shape)))
    same_as_host(result, counters, cuda, bgr)


@pytest.mark.parametrize("versioned", [True, False], ids=["versioned", "legacy"])
def test_dlpack(cuda, device_frame, bgr, versioned):
    producer = DLPackDevice(device_frame, bgr.shape, versioned)
    result, counters = counted(lambda: cuda[0].detect(producer))
    same_as_host(result, counters, cuda, bgr)
    # Stream -1: no synchronisation asked of the producer (the library's stream waits on
    # none); the newest ABI offered first. The capsule is marked used and the deleter ran
    # once, by us: the capsule's own destructor leaves a used capsule alone.
    assert producer.asked[-1] == {"stream": -1,
                                  "max_version": _dlpack.MAX_VERSION if versioned else None}
    (capsule,) = producer.capsules
    assert capsule_name(capsule) == b"used_" + _dlpack.NAMES[versioned]
    assert producer.deleted == 1
    del capsule
    producer.capsules.clear()
    assert producer.deleted == 1


def test_device_memory_refused_by_a_cpu_session(model, device_frame, bgr):
    producer = DLPackDevice(device_frame, bgr.shape, versioned=True)
    with model.session(backend="cpu") as s:
        for image in (CudaArray(device_frame, bgr.shape), producer):
            with pytest.raises(yolact.Error, match="device memory") as e:
                s.detect(image)
            assert e.value.status == yolact.Status.INVALID_ARGUMENT
    assert producer.deleted == 1


def test_dlpack_refusals_still_hand_the_tensor_back(cuda, device_frame, bgr):
    producer = DLPackDevice(device_frame, bgr.shape, versioned=True)
    producer._managed.dl_tensor.dtype.bits = 16
    with pytest.raises(TypeError, match="16 bits"):
        cuda[0].detect(producer)
    producer._managed.dl_tensor.dtype.bits = 8
    producer._managed.version.major = 2
    with pytest.raises(TypeError, match="ABI version 2.0"):
        cuda[0].detect(producer)
    assert producer.deleted == 2
