"""The training augmentation's OpenCV steps (examples/train/augment.c) against the real cv2,
as the official utils/augmentations.py calls it: cvtColor BGR<->HSV on float32 images and
resize(INTER_LINEAR) of the float image and of the 8-bit masks, objects as channels.

The masks must match bit for bit (they are thresholded later), and so must the image against
OpenCV's reference code (cv2.setUseOptimized(False)); cv2's default path quantises the
interpolation weights (to about 2^-15), so against it the bound is that quantisation's
effect, which this prints.

Usage: compare_opencv.py LIBAUGMENT.so (augment.c built as a shared library)."""
import ctypes
import sys

import cv2
import numpy as np


class Sample(ctypes.Structure):
    """augment_sample (augment.h), field for field."""
    _fields_ = [('width', ctypes.c_int), ('height', ctypes.c_int),
                ('image', ctypes.POINTER(ctypes.c_float)),
                ('count', ctypes.c_int), ('num_crowds', ctypes.c_int),
                ('masks', ctypes.POINTER(ctypes.c_uint8)),
                ('boxes', ctypes.POINTER(ctypes.c_double)),
                ('labels', ctypes.POINTER(ctypes.c_int))]


def check_hsv(lib, rng):
    pixels = (rng.random((20000, 1, 3)) * 255).astype(np.float32)
    pixels[:2000] = np.round(pixels[:2000])   # whole values: ties between channels
    pixels[2000:2100] = pixels[2000:2100, :, :1]   # greys
    hsv = cv2.cvtColor(pixels, cv2.COLOR_BGR2HSV)
    back = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    vec = ctypes.c_float * 3
    worst_to, worst_back = 0.0, 0.0
    for i in range(pixels.shape[0]):
        out = vec()
        lib.augment_bgr_to_hsv(vec(*pixels[i, 0]), out)
        worst_to = max(worst_to, float(np.abs(np.array(out) - hsv[i, 0]).max()))
        lib.augment_hsv_to_bgr(vec(*hsv[i, 0]), out)
        worst_back = max(worst_back, float(np.abs(np.array(out) - back[i, 0]).max()))
    print(f'cvtColor, {pixels.shape[0]} pixels: BGR->HSV max |diff| {worst_to:.3g}, '
          f'HSV->BGR {worst_back:.3g}')
    # float32 rounding of values up to 360: a few ulps
    return worst_to < 2e-4 and worst_back < 2e-4


def resize_with_library(lib, image, masks, size):
    count, height, width = masks.shape
    sample = Sample()
    if lib.augment_sample_init(ctypes.byref(sample), width, height, count, 0) != 0:
        raise MemoryError('augment_sample_init')
    try:
        ctypes.memmove(sample.image, image.ctypes.data, image.nbytes)
        ctypes.memmove(sample.masks, masks.ctypes.data, masks.nbytes)
        for k in range(count):
            for c, v in enumerate((0, 0, width, height)):
                sample.boxes[k * 4 + c] = v
            sample.labels[k] = 1
        if lib.augment_resize(ctypes.byref(sample), size) != 0:
            raise MemoryError('augment_resize')
        got = np.ctypeslib.as_array(sample.image, shape=(size, size, 3)).copy()
        got_masks = np.ctypeslib.as_array(sample.masks, shape=(count, size, size)).copy()
        return got, got_masks
    finally:
        lib.augment_sample_free(ctypes.byref(sample))


def opencv_resize(image, masks, size):
    """What the official Resize does: the masks as channels of one uint8 image."""
    ref = cv2.resize(image, (size, size))
    ref_masks = cv2.resize(np.ascontiguousarray(masks.transpose(1, 2, 0)), (size, size))
    ref_masks = ref_masks[None] if ref_masks.ndim == 2 else ref_masks.transpose(2, 0, 1)
    return ref, ref_masks


def check_resize(lib, rng):
    ok = True
    # up, down, both, exactly half (OpenCV's area path), odd sizes, many objects
    for width, height, size, count in [(13, 9, 32, 3), (640, 480, 550, 5), (300, 700, 550, 2),
                                       (1100, 1100, 550, 1), (551, 549, 550, 7),
                                       (97, 1203, 64, 4), (700, 520, 550, 1)]:
        image = (rng.random((height, width, 3)) * 300 - 20).astype(np.float32)
        masks = (rng.random((count, height, width)) < 0.5).astype(np.uint8)
        masks[0] = 0
        masks[0, height // 4:3 * height // 4, width // 3:2 * width // 3] = 1
        got, got_masks = resize_with_library(lib, image, masks, size)
        cv2.setUseOptimized(False)
        reference, reference_masks = opencv_resize(image, masks, size)
        cv2.setUseOptimized(True)
        default, default_masks = opencv_resize(image, masks, size)
        to_reference = float(np.abs(got - reference).max())
        to_default = float(np.abs(got - default).max())
        mask_diffs = int((got_masks != reference_masks).sum() + (got_masks != default_masks).sum())
        print(f'resize {width}x{height} -> {size}, {count} masks: image max |diff| '
              f'{to_reference:.3g} (reference path), {to_default:.3g} (default path); '
              f'mask pixels differing: {mask_diffs}')
        # the default path's 2^-15 weights move a blend of values 300 apart by up to
        # 300 * 2^-15 ~ 0.01
        ok &= to_reference == 0 and to_default < 0.02 and mask_diffs == 0
    return ok


def main():
    lib = ctypes.CDLL(sys.argv[1])
    rng = np.random.default_rng(2019)
    print(f'OpenCV {cv2.__version__}')
    ok = check_hsv(lib, rng)
    ok &= check_resize(lib, rng)
    print('agree' if ok else 'DISAGREE')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
