/* The op-test table: one row per case, run by test_ops.c through op_run_case. Each row
 * names its op family (test/ops/op_<family>.c says what its dims are), its shape, precision
 * and comparison. Shapes: the edge cases (one element, sizes that are not multiples of a
 * kernel's block or tile, empty inputs where the op takes them) and real ones (YOLACT-550's
 * 81 classes, 100 masks, 138x138 prototypes, a full pass of images); the largest real
 * shapes are op_large_cases, at the end. Comparisons:
 *   exact where the kernel does the CPU's float operations in the CPU's order (tables,
 *   preprocess, pooling, resize, add, permutes, mask bits, NMS flags, Detect's lists);
 *   ulps where a GPU's expf and tanhf (within 2 ulps) enter (head: conf 6 + C / 2 ulps of
 *   each factor, twice that of the result; coeff 2 ulps and 1 of the C library's), bit for
 *   bit where they are the C library's (the emulation);
 *   relative to sum|terms| for sums in another order: the convolution and DCNv2 FP32 1e-5
 *   (float sums of K products, each side within ~K eps of the exact sum at worst and
 *   ~sqrt(K) eps typically; K <= 2304 here), FP16 2^-9 + 1e-5 (w and x rounded to half,
 *   2^-11 relative each, so each product within ~2^-10, float accumulation: twice that,
 *   so a wrong index or fragment layout, of the order of a term, always fails; the absolute
 *   part covers inputs below half's normal range); the mask assembly's dot products
 *   (k eps sum|p c| each side, the sigmoid's slope 1/4: 0.5 k eps, and 8 eps for expf and
 *   the division); Detect's boxes on a GPU (8 ulps of the larger corner of the axis). */
#include <limits.h>

#include "cpu/conv_choice.h"
#include "ops/op_grad.h"
#include "ops/op_harness.h"
#include "parity_raw.h"

/* A row: name, family, precision, comparison, then the dims. */
#define ROW(name_, family_, precision_, check_, ...) \
    {.name = name_, .family = &family_, .precision = precision_, .check = check_, \
     .dims = {__VA_ARGS__}}
/* A row with a list. */
#define LIST_ROW(name_, family_, check_, dims_, ...) \
    {.name = name_, .family = &family_, .precision = FP32, .check = check_, .dims = dims_, \
     .list = (const int[]){__VA_ARGS__}, .list_len = COUNT(__VA_ARGS__)}
#define COUNT(...) (int)(sizeof (const int[]){__VA_ARGS__} / sizeof(int))
#define DIMS(...) {__VA_ARGS__}
#define FP32 YOLACT_PRECISION_FP32
#define FP16 YOLACT_PRECISION_FP16
#define EXACT {{.kind = OP_EXACT}}
#define ANY INT_MAX

#define AXIS(in, out) ROW("bilinear axis " #in " -> " #out, op_bilinear_axis, FP32, EXACT, in, out)
#define PREPROCESS(w, h, pad, size) \
    ROW("preprocess " #w "x" #h " pad " #pad " -> " #size, op_preprocess, FP32, EXACT, w, h, \
        pad, size)
#define MAXPOOL(c, h, w, k, s, p) \
    ROW("maxpool " #c "x" #h "x" #w " kernel " #k " stride " #s " pad " #p, op_maxpool2d, \
        FP32, EXACT, c, h, w, k, s, p)
#define RESIZE(c, ih, iw, oh, ow) \
    ROW("resize " #c "x" #ih "x" #iw " -> " #oh "x" #ow, op_resize_bilinear, FP32, EXACT, c, \
        ih, iw, oh, ow)
#define ADD(n) ROW("add " #n, op_add, FP32, EXACT, n)
#define LEAKY(n) ROW("leaky relu " #n, op_leaky_relu, FP32, EXACT, n)
#define ADD_ACT(act, residual, n) \
    ROW("add activate " #act " residual " #residual " " #n, op_add_activate, FP32, EXACT, act, \
        residual, n)
#define HEAD_CHECK(c) {{.kind = OP_ULPS, .tol = 12 + (c), .exact_with_libc_math = 1}, \
                       {.kind = OP_ULPS, .tol = 3, .exact_with_libc_math = 1}}
#define HEAD(a, c, k, h, w) \
    ROW("head output A " #a " C " #c " K " #k " " #h "x" #w ", batch 2", op_head_output, FP32, \
        HEAD_CHECK(c), a, c, k, h, w, 2)
#define PROTO(k, h, w) \
    ROW("proto output " #k "x" #h "x" #w ", batch 2", op_proto_output, FP32, EXACT, k, h, w, 2)
#define SUM_FP32 {{.kind = OP_SUM, .tol = 1e-5}}
#define SUM_FP16 {{.kind = OP_SUM, .tol = 1.0 / 512, .atol = 1e-5}}
/* One convolution in both precisions: in, out, kh, kw, stride, pad, dilation, h, w,
 * activation, bias, residual (0, 1 its own buffer, 2 the output's), batch. */
#define CONV(what, ...) \
    ROW("conv " what " FP32", op_conv2d, FP32, SUM_FP32, __VA_ARGS__), \
    ROW("conv " what " FP16", op_conv2d, FP16, SUM_FP16, __VA_ARGS__)
#define RELU YL_ACT_RELU
#define LEAKY01 YL_ACT_LEAKY_RELU_0_1
#define NONE YL_ACT_NONE
/* The CPU's convolution algorithms (op_conv_algo.c) against the reference on one image: the
 * conv dims less the batch. GEMM is the reference's own path, but a residual that is the
 * output itself is accumulated by the GEMM rather than added after it, and oneDNN sums in
 * its own order (its Winograd on the 3x3 stride-1 rows where it has a kernel for the shape,
 * F(2x2, 3x3) on these: within 1e-5 too): both the FP32 convolution's 1e-5; Winograd's transforms
 * add ~3e-6 of sum|terms| on these shapes (2e-5, as test_dense_ops bounds it). Each macro
 * ends its rows with a comma; oneDNN's rows exist only in a build with it. */
#define ALGO_CHECK_gemm SUM_FP32
#define ALGO_CHECK_onednn SUM_FP32
#define ALGO_CHECK_winograd {{.kind = OP_SUM, .tol = 2e-5}}
#define ALGO_ROW(name_, algo, what, ...) \
    ROW("conv by " #name_ " " what, op_conv_algo, FP32, ALGO_CHECK_##name_, __VA_ARGS__, algo),
/* oneDNN with its images in its blocked layout (how a chain of oneDNN layers hands them on,
 * conv_choice.h): layouts, the YL_ONEDNN_*_BLOCKED flags. */
#ifdef YL_HAVE_ONEDNN
#define ONEDNN_ROW(what, ...) ALGO_ROW(onednn, YL_CONV_ONEDNN, what, __VA_ARGS__)
#define ONEDNN_BLOCKED_ROW(what, layouts, ...) \
    ROW("conv by onednn " what, op_conv_algo, FP32, ALGO_CHECK_onednn, __VA_ARGS__, \
        YL_CONV_ONEDNN, layouts),
#else
#define ONEDNN_ROW(what, ...)
#define ONEDNN_BLOCKED_ROW(what, layouts, ...)
#endif
#define BLOCKED_IN_OUT (YL_ONEDNN_SRC_BLOCKED | YL_ONEDNN_DST_BLOCKED)
#define CONV_ALGOS(what, ...) \
    ALGO_ROW(gemm, YL_CONV_GEMM, what, __VA_ARGS__) ONEDNN_ROW(what, __VA_ARGS__)
#define CONV_ALGOS_3X3(what, ...) CONV_ALGOS(what, __VA_ARGS__) \
    ALGO_ROW(winograd, YL_CONV_WINOGRAD, what, __VA_ARGS__)
/* plus_ref.c's DCNv2 case i, ReLU on the odd ones, both precisions. */
#define DCN(i, what) \
    ROW("dcn case " #i ": " what " FP32", op_dcn2d, FP32, SUM_FP32, i, (i) % 2 ? RELU : NONE), \
    ROW("dcn case " #i ": " what " FP16", op_dcn2d, FP16, SUM_FP16, i, (i) % 2 ? RELU : NONE)
/* torchvision's deform_conv2d on a test/data/dcn/ case (no activation), both precisions. */
#define DCN_FILE(name_) \
    {.name = "dcn torchvision " name_ " FP32", .family = &op_dcn2d, .precision = FP32, \
     .check = SUM_FP32, .data = YL_TEST_DATA "/dcn/" name_ ".npz"}, \
    {.name = "dcn torchvision " name_ " FP16", .family = &op_dcn2d, .precision = FP16, \
     .check = SUM_FP16, .data = YL_TEST_DATA "/dcn/" name_ ".npz"}
/* proto_h, proto_w, k, edge boxes; the list: each image's mask count. */
#define MASKS_CHECK(k) {{.kind = OP_SUM, .tol = 0.5 * (k) * FLT_EPSILON, .atol = 8 * FLT_EPSILON}}
#define MASKS(what, h, w, k, edge, ...) \
    LIST_ROW("masks " what, op_masks_assemble, MASKS_CHECK(k), \
             DIMS(h, w, k, COUNT(__VA_ARGS__), edge), __VA_ARGS__)
/* in_h, in_w, blobs; the list: each image's (count, height, width). */
#define MASK_RESIZE(what, in_h, in_w, blobs, ...) \
    LIST_ROW("mask resize " what, op_mask_resize_threshold, EXACT, \
             DIMS(in_h, in_w, COUNT(__VA_ARGS__) / 3, blobs), __VA_ARGS__)
#define NMS(what, np, nc, top_k, clusters, odd) \
    ROW("fast nms " what, op_fast_nms, FP32, EXACT, np, nc, top_k, clusters, odd)
#define DETECT_CHECK {{.kind = OP_EXACT}, \
                      {.kind = OP_SUM, .tol = 8 * FLT_EPSILON, .exact_with_libc_math = 1}}
/* priors, classes, top_k, max_detections; the list per image: fg_percent, forced, ties,
 * odd, spread, fewest, most detections the CPU may find. */
#define DETECT(what, np, nc, top_k, max_det, ...) \
    LIST_ROW("detect " what, op_detect, DETECT_CHECK, \
             DIMS(np, nc, top_k, max_det, COUNT(__VA_ARGS__) / 7), __VA_ARGS__)
/* The parity image's network outputs (test/parity_raw.h); the list: fewest, most. */
#define DETECT_PARITY(what, max_det, fewest, most) \
    {.name = "detect coffee.png's network outputs" what, .family = &op_detect, \
     .precision = FP32, .check = DETECT_CHECK, .dims = {0, 0, 200, max_det, 1}, \
     .list = (const int[]){fewest, most}, .list_len = 2, .data = YL_PARITY_RAW_NPZ}
/* batch (0: the family's fixed lists), stride, threshold in thousandths. */
#define KEEP(what, batch, stride, threshold) \
    ROW("keep scores above: " what, op_keep_scores_above, FP32, EXACT, batch, stride, \
        threshold)
/* channels, h, w, split; the list: each image's mask count. */
#define RESCORE(what, ch, h, w, split, ...) \
    LIST_ROW("mask rescore " what, op_mask_rescore, EXACT, DIMS(ch, h, w, split), __VA_ARGS__)

/* The backward passes (op_grad.h) against central differences of float64 forwards. The
 * finite differences' own error: the convolution, resize, pool, add and permutes are linear
 * in each entry (piecewise, away from ties), so a step of 1e-4 leaves only rounding,
 * ~1e-16 sum|L's terms| / 1e-4 < 1e-9 here; the smooth ops (tanh, sigmoid, softmax, the
 * masks, BatchNorm) take 1e-5, truncation h^2 f'''/6 ~ 1e-10 of their unit-scale
 * derivatives. Hence an absolute part of 1e-7, far below a gradient entry (~0.1-10).
 * The float32 backward's own error, relative to each entry's sum|terms| (the same backward
 * over absolute values): the GEMM-based gradients as the forward convolution, 1e-5. */
#define GRAD_SUM {{.kind = OP_SUM, .tol = 1e-5, .atol = 1e-7}}
/* in, out, kh, kw, stride, pad, dilation, h, w, bias, batch, accumulate, sampling step */
#define GRAD_CONV(what, ...) ROW("grad conv " what, op_grad_conv2d, FP32, GRAD_SUM, __VA_ARGS__)

/* The other backward passes: each family states its comparison (op_grad_*.c). */
#define GRAD_ROW(name_, family_, ...) ROW(name_, family_, FP32, GRAD_SUM, __VA_ARGS__)
#define GRAD_ACT(act, n) GRAD_ROW("grad activation " #act " " #n, op_grad_activation, act, n)
#define GRAD_POOL(c, h, w, k, s, p) \
    GRAD_ROW("grad maxpool " #c "x" #h "x" #w " kernel " #k " stride " #s " pad " #p, \
             op_grad_maxpool2d, c, h, w, k, s, p)
#define GRAD_RESIZE(c, ih, iw, oh, ow) \
    GRAD_ROW("grad resize " #c "x" #ih "x" #iw " -> " #oh "x" #ow, op_grad_resize_bilinear, c, \
             ih, iw, oh, ow)
#define GRAD_ADD(n) GRAD_ROW("grad add " #n, op_grad_add, n)
#define GRAD_POINTWISE(what, kind, n) GRAD_ROW("grad " what " " #n, op_grad_pointwise, kind, n)
#define GRAD_SOFTMAX(rows, cols) \
    GRAD_ROW("grad softmax " #rows "x" #cols, op_grad_softmax, rows, cols)
#define GRAD_HEAD(a, c, k, h, w, batch) \
    GRAD_ROW("grad head output A " #a " C " #c " K " #k " " #h "x" #w " batch " #batch, \
             op_grad_head_output, a, c, k, h, w, batch)
#define GRAD_PROTO(k, h, w, batch) \
    GRAD_ROW("grad proto output " #k "x" #h "x" #w " batch " #batch, op_grad_proto_output, k, \
             h, w, batch)
#define GRAD_MASKS(what, h, w, k, n, edge) \
    GRAD_ROW("grad masks " what, op_grad_masks, h, w, k, n, edge)
#define GRAD_BN_FROZEN(outer, c, inner) \
    GRAD_ROW("grad batchnorm frozen " #outer "x" #c "x" #inner, op_grad_batchnorm_frozen, \
             outer, c, inner)
/* n, momentum and dampening per mille, weight decay per million, Nesterov */
#define SGD(what, ...) ROW("sgd " what, op_sgd, FP32, GRAD_SUM, __VA_ARGS__)
/* kind (0: unfold, 1: fold), rows, per_row, scaled, add, parts (op_param_fold.c) */
#define PARAM_FOLD(what, ...) ROW("param fold " what, op_param_fold, FP32, EXACT, __VA_ARGS__)
/* kind (0: to half, 1: to float, 2: to float added, 3: non-finite flag), n, edge
 * (op_mixed_precision.c) */
#define MIXED(what, ...) \
    ROW("mixed precision " what, op_mixed_precision, FP16, EXACT, __VA_ARGS__)
#define GRAD_BN_TRAIN(batch, c, hw) \
    GRAD_ROW("grad batchnorm train " #batch "x" #c "x" #hw, op_grad_batchnorm_train, batch, c, hw)

/* The MultiBoxLoss kernels (op_loss.c) against lib/train/: layout (0: 252 priors of a 64-pixel
 * network, 1: YOLACT-550's 19,248), objects, crowds, ties (equal overlaps in the forced
 * rounds). The match's targets bit for bit. */
#define LOSS_MATCH(what, layout, n, crowds, ties) \
    ROW("loss match " what, op_loss_match, FP32, EXACT, layout, n, crowds, ties)
/* The terms (each family states its comparisons): the box term on the match's scenes; the
 * class term with classes and negpos_ratio after them; the segmentation term: classes, h, w,
 * objects. */
#define LOSS_BOX(what, layout, n, crowds, ties) \
    ROW("loss box " what, op_loss_box, FP32, EXACT, layout, n, crowds, ties)
#define LOSS_CLASS(what, layout, n, crowds, ties, classes, ratio) \
    ROW("loss class " what, op_loss_class, FP32, EXACT, layout, n, crowds, ties, classes, ratio)
#define LOSS_SEGM(what, classes, h, w, n) \
    ROW("loss segm " what, op_loss_segm, FP32, EXACT, classes, h, w, n)
/* The mask term on the match's scenes: k, proto h, w, the form (BCE_OFF, BCE_STABLE, DICE),
 * every positive (1) or masks_to_train's sample (0), masks_to_train, the prototypes' range. */
#define LOSS_MASK(what, layout, n, ties, k, h, w, kind, all, masks, amp) \
    ROW("loss mask " what, op_loss_mask, FP32, EXACT, layout, n, 0, ties, k, h, w, kind, all, \
        masks, amp)
/* The whole loss (lib/cuda/train_loss.c) on a batch: layout, objects (image b: + b), crowds,
 * ties, batch, k, the prototypes' side, the segmentation map's (0: no S), masks_to_train,
 * no gradients (the losses alone). */
#define LOSS_MULTIBOX(what, layout, n, crowds, batch, k, ph, sh, masks, no_grads) \
    ROW("loss multibox " what, op_loss_multibox, FP32, EXACT, layout, n, crowds, 0, batch, k, \
        ph, sh, masks, no_grads)
#define BCE_OFF YL_MASK_LOSS_BCE_OFFICIAL
#define BCE_STABLE YL_MASK_LOSS_BCE_STABLE
#define DICE YL_MASK_LOSS_DICE

const op_case op_cases[] = {
    AXIS(1, 1), AXIS(1, 7), AXIS(7, 1), AXIS(5, 5), AXIS(3, 550), AXIS(550, 3), AXIS(480, 550),
    AXIS(640, 550), AXIS(138, 1080), AXIS(1920, 137),

    PREPROCESS(1, 1, 0, 1), PREPROCESS(1, 1, 5, 9), PREPROCESS(3, 7, 1, 33),
    PREPROCESS(37, 11, 3, 37), PREPROCESS(640, 480, 0, 550), PREPROCESS(550, 550, 4, 550),
    PREPROCESS(1000, 17, 2, 64), PREPROCESS(31, 1200, 0, 100),

    MAXPOOL(1, 1, 1, 1, 1, 0), MAXPOOL(3, 7, 9, 3, 2, 1), MAXPOOL(5, 13, 11, 2, 2, 0),
    MAXPOOL(2, 5, 5, 5, 1, 2), MAXPOOL(3, 8, 3, 3, 1, 1), MAXPOOL(64, 69, 69, 3, 2, 1),
    MAXPOOL(4, 33, 65, 3, 2, 1), MAXPOOL(1, 2, 2, 3, 3, 1), MAXPOOL(0, 4, 4, 3, 2, 1),

    RESIZE(1, 1, 1, 1, 1), RESIZE(3, 5, 7, 10, 14), RESIZE(2, 69, 69, 138, 138),
    RESIZE(4, 35, 35, 69, 69), RESIZE(1, 9, 4, 3, 17), RESIZE(2, 18, 18, 35, 35),
    RESIZE(3, 6, 6, 6, 6), RESIZE(1, 1, 5, 7, 1), RESIZE(0, 4, 4, 8, 8),

    ADD(0), ADD(1), ADD(255), ADD(256), ADD(257), ADD(100003),

    LEAKY(0), LEAKY(1), LEAKY(255), LEAKY(256), LEAKY(257), LEAKY(100003),

    ADD_ACT(RELU, 1, 1000), ADD_ACT(RELU, 0, 257), ADD_ACT(NONE, 1, 100003),
    ADD_ACT(LEAKY01, 1, 255), ADD_ACT(LEAKY01, 0, 0),

    HEAD(1, 1, 1, 1, 1), HEAD(3, 5, 4, 7, 9), HEAD(9, 81, 32, 5, 5), HEAD(3, 2, 0, 3, 3),
    HEAD(3, 81, 32, 35, 35), HEAD(3, 81, 32, 1, 2),

    PROTO(32, 138, 138), PROTO(1, 1, 1), PROTO(33, 5, 7), PROTO(31, 33, 3), PROTO(64, 1, 65),
    PROTO(0, 3, 3),

    CONV("3->5 3x3", 3, 5, 3, 3, 1, 1, 1, 7, 9, RELU, 1, 0, 1),
    CONV("1->1 1x1 on 1x1", 1, 1, 1, 1, 1, 0, 1, 1, 1, NONE, 0, 0, 1),
    CONV("63->65 3x3: tile edges in M, K", 63, 65, 3, 3, 1, 1, 1, 13, 11, LEAKY01, 1, 1, 1),
    CONV("65->63 1x1, residual aliasing out", 65, 63, 1, 1, 1, 0, 1, 8, 8, NONE, 0, 2, 1),
    CONV("64->64 3x3 stride 2", 64, 64, 3, 3, 2, 1, 1, 17, 17, RELU, 1, 0, 1),
    CONV("7->9 5x3 dilation 2", 7, 9, 5, 3, 2, 2, 2, 15, 12, LEAKY01, 1, 1, 1),
    CONV("16->351 3x3: a head", 16, 351, 3, 3, 1, 1, 1, 5, 5, NONE, 1, 0, 1),
    CONV("8->8 1x1: 65 pixel tiles", 8, 8, 1, 1, 1, 0, 1, 64, 65, RELU, 1, 2, 1),
    CONV("32->32 3x3: one column", 32, 32, 3, 3, 1, 1, 1, 63, 1, RELU, 0, 1, 1),
    CONV("5->3 1x1 stride 2 padded", 5, 3, 1, 1, 2, 1, 1, 9, 10, NONE, 1, 1, 1),
    CONV("6->10 1x7: wide tap steps", 6, 10, 1, 7, 1, 0, 1, 5, 11, RELU, 1, 0, 1),
    CONV("9->4 2x2 stride 2", 9, 4, 2, 2, 2, 0, 1, 8, 8, NONE, 0, 0, 1),
    CONV("5->7 3x1 dilation 3", 5, 7, 3, 1, 1, 3, 3, 10, 6, LEAKY01, 0, 1, 1),
    /* FP16 takes the (H, W, C) path from here (and for 64->64, 16->351, 32->32 above): */
    CONV("8->70 3x3: a tap a group, K 72", 8, 70, 3, 3, 1, 1, 1, 9, 13, LEAKY01, 1, 1, 1),
    CONV("24->40 5x3: groups across taps", 24, 40, 5, 3, 2, 2, 2, 12, 10, RELU, 1, 2, 1),
    CONV("256->64 3x3: 72 k tiles in flight", 256, 64, 3, 3, 1, 1, 1, 6, 7, NONE, 1, 0, 1),
    CONV("40->8 3x3: one pixel, no padding", 40, 8, 3, 3, 1, 0, 1, 3, 3, RELU, 0, 0, 1),
    CONV("4->4 5x5 on 3x3: an empty output", 4, 4, 5, 5, 1, 0, 1, 3, 3, NONE, 1, 0, 1),
    /* Batches: each image against the CPU and against the kernel on it alone. */
    CONV("63->65 3x3 batch 3", 63, 65, 3, 3, 1, 1, 1, 13, 11, LEAKY01, 1, 1, 3),
    CONV("63->65 3x3 batch 3, residual aliasing out", 63, 65, 3, 3, 1, 1, 1, 13, 11, LEAKY01,
         1, 2, 3),
    CONV("7->9 5x3 dilation 2 batch 2", 7, 9, 5, 3, 2, 2, 2, 15, 12, LEAKY01, 1, 1, 2),
    CONV("7->9 5x3 dilation 2 batch 2, residual aliasing out", 7, 9, 5, 3, 2, 2, 2, 15, 12,
         LEAKY01, 1, 2, 2),
    CONV("8->70 3x3 batch 3", 8, 70, 3, 3, 1, 1, 1, 9, 13, LEAKY01, 1, 1, 3),
    CONV("8->70 3x3 batch 3, residual aliasing out", 8, 70, 3, 3, 1, 1, 1, 9, 13, LEAKY01, 1,
         2, 3),
    CONV("64->64 3x3 on 69x69: the parity net's protonet", 64, 64, 3, 3, 1, 1, 1, 69, 69,
         RELU, 1, 0, 1),

    CONV_ALGOS_3X3("3->5 3x3", 3, 5, 3, 3, 1, 1, 1, 7, 9, RELU, 1, 0)
    CONV_ALGOS_3X3("63->65 3x3, residual", 63, 65, 3, 3, 1, 1, 1, 13, 11, LEAKY01, 1, 1)
    CONV_ALGOS_3X3("32->48 3x3, residual aliasing out, ReLU", 32, 48, 3, 3, 1, 1, 1, 12, 9,
                   RELU, 1, 2)
    CONV_ALGOS_3X3("64->64 3x3 on 69x69: the parity net's protonet", 64, 64, 3, 3, 1, 1, 1,
                   69, 69, RELU, 1, 0)
    CONV_ALGOS_3X3("16->351 3x3 no bias: a head", 16, 351, 3, 3, 1, 1, 1, 5, 5, NONE, 0, 0)
    CONV_ALGOS("65->63 1x1, residual aliasing out", 65, 63, 1, 1, 1, 0, 1, 8, 8, NONE, 0, 2)
    CONV_ALGOS("64->256 1x1, residual and ReLU: a bottleneck's last", 64, 256, 1, 1, 1, 0, 1,
               9, 10, RELU, 1, 1)
    CONV_ALGOS("64->64 3x3 stride 2", 64, 64, 3, 3, 2, 1, 1, 17, 17, RELU, 1, 0)
    CONV_ALGOS("7->9 5x3 dilation 2, residual", 7, 9, 5, 3, 2, 2, 2, 15, 12, LEAKY01, 1, 1)
    CONV_ALGOS("5->3 1x1 stride 2 padded", 5, 3, 1, 1, 2, 1, 1, 9, 10, NONE, 1, 1)
    CONV_ALGOS("3->64 7x7 stride 2: a stem", 3, 64, 7, 7, 2, 3, 1, 23, 19, RELU, 1, 0)
    ONEDNN_BLOCKED_ROW("32->48 3x3, residual aliasing out, ReLU, blocked in and out",
                       BLOCKED_IN_OUT, 32, 48, 3, 3, 1, 1, 1, 12, 9, RELU, 1, 2)
    ONEDNN_BLOCKED_ROW("64->64 3x3 on 69x69, blocked in and out", BLOCKED_IN_OUT, 64, 64, 3,
                       3, 1, 1, 1, 69, 69, RELU, 1, 0)
    ONEDNN_BLOCKED_ROW("64->256 1x1, residual and ReLU, blocked in and out", BLOCKED_IN_OUT,
                       64, 256, 1, 1, 1, 0, 1, 9, 10, RELU, 1, 1)
    ONEDNN_BLOCKED_ROW("64->64 3x3 stride 2, blocked in", YL_ONEDNN_SRC_BLOCKED, 64, 64, 3, 3,
                       2, 1, 1, 17, 17, RELU, 1, 0)
    ONEDNN_BLOCKED_ROW("64->32 1x1 stride 2, residual, blocked out", YL_ONEDNN_DST_BLOCKED, 64,
                       32, 1, 1, 2, 0, 1, 16, 15, NONE, 0, 1)

    GRAD_CONV("3->5 3x3", 3, 5, 3, 3, 1, 1, 1, 7, 9, 1, 1, 0, 1),
    GRAD_CONV("4->6 3x3 stride 2, odd sides, batch 2, accumulated", 4, 6, 3, 3, 2, 1, 1, 9, 7, 1,
              2, 1, 1),
    GRAD_CONV("5->3 3x3 dilation 2, no bias", 5, 3, 3, 3, 1, 2, 2, 8, 11, 0, 1, 0, 1),
    GRAD_CONV("6->4 1x1, batch 2", 6, 4, 1, 1, 1, 0, 1, 5, 7, 1, 2, 0, 1),
    GRAD_CONV("6->4 1x1 accumulated", 6, 4, 1, 1, 1, 0, 1, 5, 7, 1, 1, 1, 1),
    GRAD_CONV("3->2 1x1 stride 2 padded", 3, 2, 1, 1, 2, 1, 1, 7, 6, 1, 1, 1, 1),
    GRAD_CONV("7->5 5x3 stride 2 dilation 2", 7, 5, 5, 3, 2, 2, 2, 11, 10, 1, 1, 0, 1),
    GRAD_CONV("4->4 5x5 on 3x3: an empty output", 4, 4, 5, 5, 1, 0, 1, 3, 3, 1, 1, 0, 1),
    /* two GEMM tiles along k (288) and the pixels (289), sampled */
    GRAD_CONV("32->3 3x3 on 17x17: tile edges, sampled", 32, 3, 3, 3, 1, 1, 1, 17, 17, 1, 1, 0,
              37),

    GRAD_ACT(RELU, 1000), GRAD_ACT(LEAKY01, 257), GRAD_ACT(NONE, 33),
    GRAD_POOL(3, 7, 9, 3, 2, 1), GRAD_POOL(2, 8, 8, 2, 2, 0), GRAD_POOL(2, 5, 6, 3, 1, 1),
    GRAD_RESIZE(2, 5, 5, 10, 10), GRAD_RESIZE(3, 4, 7, 9, 13), GRAD_RESIZE(1, 3, 3, 3, 3),
    GRAD_RESIZE(2, 9, 4, 5, 11), GRAD_RESIZE(2, 35, 35, 69, 69),   /* the FPN's largest upsample */
    GRAD_ADD(1), GRAD_ADD(257),
    GRAD_POINTWISE("tanh", 0, 300), GRAD_POINTWISE("sigmoid", 1, 300),
    GRAD_SOFTMAX(7, 81), GRAD_SOFTMAX(5, 2), GRAD_SOFTMAX(1, 1),
    GRAD_HEAD(3, 5, 4, 3, 4, 2), GRAD_HEAD(1, 2, 1, 1, 1, 1),
    GRAD_PROTO(5, 3, 7, 2), GRAD_PROTO(32, 13, 11, 1),
    GRAD_MASKS("7x9, k 4, 3 masks", 7, 9, 4, 3, 0),
    GRAD_MASKS("11x6, k 8, 6 masks, boxes past the edges", 11, 6, 8, 6, 1),
    GRAD_BN_FROZEN(2, 3, 10), GRAD_BN_FROZEN(1, 5, 27),
    GRAD_BN_TRAIN(2, 3, 12), GRAD_BN_TRAIN(1, 4, 7), GRAD_BN_TRAIN(3, 2, 5),
    GRAD_BN_TRAIN(2, 3, 1000),          /* more elements a channel than a block has threads */
    SGD("plain, 1000", 1000, 0, 0, 0, 0), SGD("train.py's, 1", 1, 900, 0, 500, 0),
    SGD("train.py's, 4099", 4099, 900, 0, 500, 0), SGD("dampened", 257, 900, 300, 10000, 0),
    SGD("Nesterov", 300, 900, 0, 500, 1), SGD("empty", 0, 900, 0, 500, 0),
    PARAM_FOLD("unfold, 64x27 scaled", 0, 64, 27, 1, 0, 1),
    PARAM_FOLD("unfold, 5x7 unscaled", 0, 5, 7, 0, 0, 1),
    PARAM_FOLD("unfold added, mean of 3 parts", 0, 33, 9, 1, 1, 3),
    PARAM_FOLD("unfold, 1 row of 4099, mean of 2", 0, 1, 4099, 0, 1, 2),
    PARAM_FOLD("fold, 64x27", 1, 64, 27, 1, 0, 1), PARAM_FOLD("fold, 300x1", 1, 300, 1, 1, 0, 1),
    PARAM_FOLD("empty", 0, 0, 9, 1, 0, 1),
    MIXED("to half, 1000", 0, 1000, 0),
    MIXED("to half, 4099 past range and subnormal", 0, 4099, 1),
    MIXED("to float, 1", 1, 1, 0), MIXED("to float, 4099 with inf and subnormal", 1, 4099, 1),
    MIXED("to float added, 1000", 2, 1000, 0), MIXED("to float added, 257 with inf", 2, 257, 1),
    MIXED("to half, empty", 0, 0, 0), MIXED("to float added, empty", 2, 0, 0),
    MIXED("flag, all finite", 3, 5000, 0), MIXED("flag, inf last", 3, 5000, 1),
    MIXED("flag, NaN midway", 3, 1027, 2), MIXED("flag, empty", 3, 0, 0),

    LOSS_MATCH("no objects", 0, 0, 0, 0), LOSS_MATCH("no objects, a crowd", 0, 0, 1, 0),
    LOSS_MATCH("one object", 0, 1, 0, 0), LOSS_MATCH("5 objects and a crowd", 0, 5, 1, 0),
    LOSS_MATCH("4 objects, tied overlaps", 0, 4, 0, 1),
    LOSS_MATCH("40 objects, 2 crowds, tied overlaps", 0, 40, 2, 1),
    LOSS_MATCH("300 objects: more than the 252 priors", 0, 300, 0, 0),
    LOSS_BOX("no objects", 0, 0, 0, 0), LOSS_BOX("5 objects and a crowd", 0, 5, 1, 0),
    LOSS_CLASS("no objects", 0, 0, 0, 0, 9, 3),
    LOSS_CLASS("5 objects and a crowd, 9 classes", 0, 5, 1, 0, 9, 3),
    LOSS_CLASS("tied ranking losses", 0, 5, 0, 1, 9, 3),
    LOSS_CLASS("ratio 0: no hard negatives", 0, 5, 0, 0, 4, 0),
    LOSS_CLASS("num_neg cut at the priors less one", 0, 40, 0, 1, 9, 100),
    LOSS_SEGM("one class 1x1", 1, 1, 1, 1), LOSS_SEGM("no objects", 4, 5, 5, 0),
    LOSS_SEGM("8 classes 9x7, 3 objects", 8, 9, 7, 3),
    LOSS_MASK("no objects", 0, 0, 0, 4, 9, 7, BCE_OFF, 0, 100, 1),
    LOSS_MASK("official BCE, saturated logits, 8 of the positives", 0, 5, 0, 32, 16, 16,
              BCE_OFF, 0, 8, 6),
    LOSS_MASK("stable BCE, every positive, k 3, 9x13", 0, 4, 1, 3, 9, 13, BCE_STABLE, 1, 0, 1),
    LOSS_MASK("Dice, 7 of the positives, 11x11", 0, 6, 0, 8, 11, 11, DICE, 0, 7, 1),
    LOSS_MASK("masks_to_train 0", 0, 3, 0, 4, 8, 8, BCE_OFF, 0, 0, 1),
    LOSS_MULTIBOX("one image, no S", 0, 3, 0, 1, 4, 9, 0, 100, 0),
    LOSS_MULTIBOX("3 images, crowds, S, a sample of 5 masks", 0, 2, 1, 3, 8, 12, 6, 5, 0),
    LOSS_MULTIBOX("2 images, the losses alone", 0, 4, 1, 2, 8, 10, 5, 100, 1),

    DCN(0, "stride 1, offsets to 3 px"), DCN(1, "stride 2, far outside"),
    DCN(2, "dilation 2, padding 2"), DCN(3, "integer offsets"), DCN(4, "several GEMM tiles"),
    DCN(5, "two output-channel tiles"), DCN(6, "5x5"),

    MASKS("1x1x1", 1, 1, 1, 0, 1),
    MASKS("7x5x3, an image without masks", 7, 5, 3, 0, 2, 0, 1),
    MASKS("19x23x33: k past a chunk, masks past a tile", 19, 23, 33, 0, 9, 17),
    MASKS("138x138x32: YOLACT-550, 100 masks", 138, 138, 32, 0, 100),
    MASKS("30x41x32: edge boxes", 30, 41, 32, 1, 8),
    MASKS("11x13x0: sigmoid(0) inside", 11, 13, 0, 0, 3, 1),
    MASKS("6x9x4: a full pass", 6, 9, 4, 0, 0, 7, 3, 10, 6, 2, 9, 5, 1, 8, 4, 0, 7, 3, 10, 6, 2,
          9, 5, 1, 8, 4, 0, 7, 3, 10, 6, 2, 9, 5, 1, 8),
    MASKS("6x9x4: two images without masks", 6, 9, 4, 0, 0, 0),

    MASK_RESIZE("1x1 -> 1x1", 1, 1, 0, 1, 1, 1),
    MASK_RESIZE("1x1 -> 9x33", 1, 1, 0, 2, 9, 33),
    MASK_RESIZE("138x138: real frames in one pass, one without masks", 138, 138, 1,
                3, 480, 640, 0, 100, 100, 2, 37, 45, 19, 9, 300),
    MASK_RESIZE("20x30: a copy", 20, 30, 1, 4, 20, 30),
    MASK_RESIZE("50x7 -> 100x31: less than a warp wide", 50, 7, 0, 1, 100, 31),
    MASK_RESIZE("0x0: all zeros", 0, 0, 0, 2, 5, 70),
    MASK_RESIZE("9x40 -> 6x2100: wider than the CPU's sweep", 9, 40, 1, 2, 6, 2100),
    MASK_RESIZE("12x10: a full pass", 12, 10, 1,
                0, 3, 1, 7, 4, 14, 3, 5, 27, 10, 6, 40, 6, 7, 13, 2, 3, 26, 9, 4, 39, 5, 5, 12,
                1, 6, 25, 8, 7, 38, 4, 3, 11, 0, 4, 24, 7, 5, 37, 3, 6, 10, 10, 7, 23, 6, 3, 36,
                2, 4, 9, 9, 5, 22, 5, 6, 35, 1, 7, 8, 8, 3, 21, 4, 4, 34, 0, 5, 7, 7, 6, 20,
                3, 7, 33, 10, 3, 6, 6, 4, 19, 2, 5, 32, 9, 6, 5, 5, 7, 18, 1, 3, 31, 8, 4, 4),

    NMS("one detection", 1, 2, 200, 1, 0),
    NMS("100 candidates, fewer than top_k", 100, 2, 200, 4, 1),
    NMS("top_k truncates", 500, 3, 200, 9, 1),
    NMS("every COCO class", 300, 81, 200, 12, 1),
    NMS("more boxes than threads", 700, 2, 600, 30, 0),
    NMS("no detections", 0, 4, 4, 1, 0),

    DETECT("no candidates", 300, 5, 10, 100, 0, -1, 0, 0, 0, 0, 0),
    DETECT("one candidate", 300, 5, 10, 100, 0, 1, 0, 0, 0, 0, 4),
    DETECT("every COCO class, fewer than top_k", 400, 81, 200, 100, 30, -1, 0, 0, 0, 1, ANY),
    DETECT("exactly top_k candidates", 500, 7, 64, 1000, 0, 64, 0, 0, 0, 0, 64 * 6),
    DETECT("top_k + 1 candidates", 500, 7, 64, 1000, 0, 65, 1, 0, 0, 0, 65 * 6),
    DETECT("more than top_k, cut by max_detections", 900, 7, 50, 30, 60, -1, 0, 1, 0, 30, 30),
    DETECT("equal scores everywhere", 700, 12, 100, 1000, 50, -1, 1, 1, 0, 1, ANY),
    DETECT("top_k 1, max_detections 1", 200, 4, 1, 1, 50, -1, 1, 0, 0, 1, ANY),
    DETECT("two classes, more blocks than a scan chunk", 70000, 2, 300, 100, 1, -1, 1, 1, 0, 1,
           ANY),
    /* selections over scores copied to shared memory (7,680 of them fit at top_k 200), and
     * over the global copy when they do not fit */
    DETECT("7,680 candidates", 8000, 4, 200, 100, 0, 7680, 0, 0, 0, 0, 7680 * 3),
    DETECT("7,681 candidates", 8000, 4, 200, 100, 0, 7681, 1, 0, 0, 0, 7681 * 3),
    /* the final selection over the kept rows in shared memory (4,096 keys fit; the rows
     * above), and over the rows themselves when more are kept: about 40 x 200 here */
    DETECT("more kept rows than the final selection stages", 3000, 41, 200, 100, 100, -1, 0, 0,
           1, 1, ANY),
    DETECT("a batch of 4: many, none, exactly top_k, few", 600, 21, 64, 40,
           50, -1, 0, 1, 0, 40, 40, 0, -1, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0, 1, ANY,
           2, -1, 0, 0, 0, 1, ANY),
    /* The official network outputs of the parity image (test/parity_raw.h), with the
     * official settings and with every kept detection (max_detections 0 here). */
    DETECT_PARITY("", 100, 100, 100),
    DETECT_PARITY(", all kept", 0, 101, ANY),

    LIST_ROW("keep scores above: the CPU's own cases", op_keep_scores_above, EXACT,
             DIMS(0, 0, 300), 6, 0, 1, 0, 2),
    KEEP("9 lists of 100", 9, 100, 300),
    KEEP("1 list of 1", 1, 1, 500),

    RESCORE("1 mask 1x1x1", 1, 1, 1, 0, 1),
    RESCORE("7 masks 80x3x3", 80, 3, 3, 0, 7),
    RESCORE("100 masks 80x3x3", 80, 3, 3, 0, 100),
    RESCORE("130 masks 5x4x7, split at 64", 5, 4, 7, 64, 130),
    RESCORE("3 masks 2x17x1", 2, 17, 1, 0, 3),
    RESCORE("images without masks first, between and last, split inside an image", 80, 3, 3, 5,
            0, 3, 0, 0, 5, 0),
};
const int op_num_cases = (int)(sizeof op_cases / sizeof op_cases[0]);

/* The networks' largest shapes at 550 beyond those above, and DCNv2 at the real networks'
 * channel counts against torchvision (test/data/dcn/): up to 5 s a row in the emulation (the
 * 256-channel protonet in FP16, 2 shared cores), so tagged "slow" (test_ops.c) for
 * valgrind's CI run to leave out; make test runs them. */
const op_case op_large_cases[] = {
    MAXPOOL(64, 275, 275, 3, 2, 1),     /* ResNet's stem pool */
    RESIZE(256, 35, 35, 69, 69),        /* the FPN's largest upsample */
    LEAKY(9680000),                     /* DarkNet-53's first layer: 32x550x550 */
    HEAD(3, 81, 32, 69, 69),            /* the largest head level */
    CONV("256->256 3x3 on 69x69: YOLACT-550's protonet", 256, 256, 3, 3, 1, 1, 1, 69, 69,
         RELU, 1, 0, 1),
    MASK_RESIZE("138x138 -> 1080x1920: YOLACT-550 on a full-HD frame", 138, 138, 1,
                5, 1080, 1920),
    DCN_FILE("c128_69_s1"), DCN_FILE("c256_35_s1"), DCN_FILE("c512_18_s1"),
    DCN_FILE("c512_35_s2"), DCN_FILE("c64_69_s2"), DCN_FILE("c96_23x17_d2"),
    DCN_FILE("c64_13x11_far"),
    SGD("train.py's, 1.1 M: more than one pass of the grid", 1100000, 900, 0, 500, 0),
    /* the loss kernels on YOLACT-550's 19,248 priors, 81 classes, 138x138x32 prototypes */
    LOSS_MATCH("YOLACT-550, 20 objects, 2 crowds, tied overlaps", 1, 20, 2, 1),
    LOSS_BOX("YOLACT-550, 20 objects, 2 crowds", 1, 20, 2, 1),
    LOSS_CLASS("YOLACT-550, 81 classes, tied ranking losses", 1, 20, 2, 1, 81, 3),
    LOSS_SEGM("YOLACT-550's 80 classes on 69x69, 12 objects", 80, 69, 69, 12),
    LOSS_MASK("YOLACT-550: 138x138x32, 64 of the positives", 1, 30, 1, 32, 138, 138, BCE_OFF, 0,
              64, 1),
};
const int op_num_large_cases = (int)(sizeof op_large_cases / sizeof op_large_cases[0]);
