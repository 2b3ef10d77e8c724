/* A minimal reader of NumPy .npz files for the tests: one array out of a zip (stored or
 * deflated, zip64 aware) holding .npy files (format 1.0-3.0, C order, little-endian
 * '<f4', '<i4', '<i8', '|u1', '|b1'), so test data written by np.savez_compressed can be
 * read without Python. */
#ifndef YL_TEST_NPZ_H
#define YL_TEST_NPZ_H

#include <stddef.h>
#include <stdint.h>

#define YL_NPY_MAX_DIMS 8

typedef struct yl_npy {
    char dtype[8];              /* as in the header: "<f4", "<f8", "<i4", "<i8", "|u1", "|b1" */
    size_t item_size;
    int ndim;
    size_t shape[YL_NPY_MAX_DIMS];
    size_t count;               /* product of shape */
    void *data;                 /* count * item_size bytes, malloc'ed */
} yl_npy;

/* Read array `key` (the name without ".npy") from the .npz at path. Returns NULL on success,
 * else a static message saying what failed (out is then left empty). */
const char *yl_npz_read(const char *path, const char *key, yl_npy *out);
void yl_npy_free(yl_npy *a);

#endif
