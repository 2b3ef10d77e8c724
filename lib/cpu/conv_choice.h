/* Which algorithm runs each convolution of a CPU session: im2col + GEMM, Winograd (3x3
 * stride 1, from the prepared weights) or oneDNN (onednn_conv.h). The environment variable
 * YOLACT_CPU_CONV, read when a session is created, says how it is chosen:
 *   auto: each layer's fastest, timed once per model and thread count on this machine at
 *        the first session (a few frames' worth of convolutions), kept beside the prepared
 *        weights for the later ones and in a file for later processes
 *        (conv_choice_file.h; YOLACT_CPU_CONV_CACHE=off: neither read nor written);
 *   fixed (the default, also when unset or empty): the rule before the choice existed
 *        (Winograd where it applies, else GEMM): what the tests pin, bit for bit with the
 *        parity runs;
 *   gemm, winograd, onednn: that algorithm wherever it applies, the fixed rule elsewhere.
 * Every algorithm is within its tolerance of the reference convolution (test/ops). */
#ifndef YL_CPU_CONV_CHOICE_H
#define YL_CPU_CONV_CHOICE_H

#include "cpu/onednn_conv.h"
#include "cpu/prepared_weights.h"
#include "model/model.h"

typedef enum yl_conv_algo { YL_CONV_GEMM = 0, YL_CONV_WINOGRAD, YL_CONV_ONEDNN } yl_conv_algo;

typedef enum yl_conv_mode {
    YL_CONV_MODE_AUTO = 0,
    YL_CONV_MODE_FIXED,
    YL_CONV_MODE_GEMM,
    YL_CONV_MODE_WINOGRAD,
    YL_CONV_MODE_ONEDNN
} yl_conv_mode;

/* YOLACT_CPU_CONV's mode; YOLACT_ERR_INVALID_ARGUMENT for a value it does not name, and for
 * onednn in a build without oneDNN (YOLACT_ERR_UNSUPPORTED). */
yolact_status yl_conv_mode_from_env(yl_conv_mode *mode);

/* How many times auto mode has timed a network's convolutions in this process (not taken
 * from memory or the file): for the tests. */
unsigned long yl_conv_choice_timings(void);

/* "gemm", "winograd", "onednn"; static storage. */
const char *yl_conv_algo_name(yl_conv_algo algo);

/* A session's convolutions: each one's algorithm and, where it is oneDNN, the session's
 * own primitive (sessions never share one: each runs in its caller's thread). A buffer that
 * only oneDNN convolutions, max pooling and resizes write and read stays in oneDNN's
 * blocked layout (onednn_conv.h), so a chain of them runs without reorders between its
 * layers. */
typedef struct yl_cpu_convs {
    int num_ops;
    unsigned char *algo;        /* per op: its yl_conv_algo (convolutions only) */
    yl_onednn_conv **onednn;    /* per op: NULL unless its algorithm is oneDNN */
    unsigned char *layouts;     /* per op: its primitive's YL_ONEDNN_*_BLOCKED flags */
    unsigned char *blocked;     /* per buffer: 1 where it is kept blocked */
    void *onednn_scratch;       /* the largest of their scratch, shared: one runs at a time */
} yl_cpu_convs;

/* m's convolutions as mode chooses them, with threads threads. Auto mode times each
 * candidate on buffers and workspace (the session's: yl_cpu_op_scratch_sizes' conv floats),
 * whose contents it overwrites, the first time for this model and thread count. */
yolact_status yl_cpu_convs_create(const yolact_model *m, const yl_cpu_prepared *prepared,
                                  yl_conv_mode mode, int threads, float *const *buffers,
                                  float *workspace, yl_cpu_convs **convs);
void yl_cpu_convs_destroy(yl_cpu_convs *convs);

/* Run convolution op i of m on buffers by its algorithm in convs (NULL: the fixed rule). */
yolact_status yl_cpu_conv_op(const yl_cpu_convs *convs, const yolact_model *m, int i,
                             float *const *buffers, const yl_cpu_prepared *prepared,
                             float *workspace, int threads);

/* oneDNN's channel block where buffer b is kept in its blocked layout, 0 where it is plain
 * CHW (always without convs: the fixed rule). */
int yl_cpu_buffer_block(const yl_cpu_convs *convs, int b);

/* One letter per convolution of m in op order (g gemm, w winograd, o oneDNN), for
 * yolact-bench; out has room for n bytes (cut short, always terminated). */
void yl_cpu_convs_describe(const yl_cpu_convs *convs, const yolact_model *m, char *out,
                           size_t n);

#endif
