/* The backward pass of the official training's masks (grad_ops.h): the crop and the sigmoid
 * element-wise into the logits' gradient, then the two GEMMs of P·Cᵀ's backward, in tiles
 * over OpenMP threads. Every buffer is pixel-major (H, W, ·) as the prototypes are. */
#include <omp.h>

#include "cpu/gemm.h"
#include "cpu/grad_ops.h"
#include "ops/boxes.h"

enum { ROWS = 256 };    /* pixels (or masks) per tile of a product */

void yl_masks_backward_cpu(const float *proto, int proto_h, int proto_w, int k,
                           const float *coeff, int n, const float *boxes, const float *masks,
                           const float *grad_masks, float *grad_logits, float *grad_proto,
                           float *grad_coeff, int num_threads)
{
    const int pixels = proto_h * proto_w;
    if (pixels <= 0 || n <= 0)
        return;
    const int threads = num_threads > 0 ? num_threads : omp_get_max_threads();
    const int pixel_tiles = (pixels + ROWS - 1) / ROWS, mask_tiles = (n + ROWS - 1) / ROWS;
    yl_gemm_single_threaded_blas();
#pragma omp parallel num_threads(threads)
    {
        /* d logits = d masks · sigmoid' inside the crop (outside it the crop's zero factor),
         * a row of pixels a task: its n·W entries stay in cache while each mask's crop
         * (two yl_crop_range calls) is applied. */
#pragma omp for schedule(static)
        for (int r = 0; r < proto_h; r++)
            for (int j = 0; j < n; j++) {
                const float *box = boxes + (size_t)j * 4;
                int c0, c1, r0, r1;
                yl_crop_range(box[1], box[3], proto_h, &r0, &r1);
                yl_crop_range(box[0], box[2], proto_w, &c0, &c1);
                if (r < r0 || r >= r1)
                    c0 = c1 = 0;
                for (int x = 0; x < proto_w; x++) {
                    size_t i = ((size_t)r * proto_w + x) * n + j;
                    grad_logits[i] = x >= c0 && x < c1
                                         ? grad_masks[i] * (1.0f - masks[i]) * masks[i] : 0.0f;
                }
            }
        /* d P (pixels, k) += d logits (pixels, n) · C (n, k) */
#pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < pixel_tiles; t++) {
            int p0 = t * ROWS, pc = pixels - p0 < ROWS ? pixels - p0 : ROWS;
            yl_gemm(YL_GEMM_AUTO, pc, k, n, grad_logits + (size_t)p0 * n, n, coeff, k, 1,
                    grad_proto + (size_t)p0 * k, k);
        }
        /* d C (n, k) += d logitsᵀ (n, pixels) · P (pixels, k) */
#pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < mask_tiles; t++) {
            int j0 = t * ROWS, jc = n - j0 < ROWS ? n - j0 : ROWS;
            yl_gemm_at(YL_GEMM_AUTO, jc, k, pixels, grad_logits + j0, n, proto, k, 1,
                       grad_coeff + (size_t)j0 * k, k);
        }
    }
}
