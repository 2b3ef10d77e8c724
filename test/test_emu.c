/* Check suite `emu`: the CUDA emulation's own tests (test/emu), on the kernels of
 * emu_selftest.cu: warp collectives, misuse reports, cp.async and ldmatrix, the plain-call
 * and fiber modes with the runtime's counters, the run order, stream capture and graphs, and
 * the tensor-core MMA against a scalar matmul with planted fragment-layout errors it must
 * expose. Built only where the runtime is the emulation. */
#include <math.h>
#include <string.h>

#include "emu_selftest.h"
#include "yl_cuda_test.h"

START_TEST(test_emu_warp_collectives)
{
    enum { N = 256 };
    int in[N], out[5 * N];
    uint64_t rng = 42;
    for (int i = 0; i < N; i++)
        in[i] = (int)yl_test_rand(&rng, -100.0f, 100.0f);
    int *d_in = to_dev(in, sizeof in), *d_out = dev_alloc(sizeof out);
    ck_assert_cuda(yl_emu_selftest_warp(d_in, d_out, N, 128));
    from_dev(out, d_out, sizeof out);
    for (int w = 0; w < N / 32; w++) {
        int sum = 0, scan = 0;
        unsigned ballot = 0;
        for (int l = 0; l < 32; l++) {
            sum += in[32 * w + l];
            ballot |= (unsigned)(in[32 * w + l] > 0) << l;
        }
        for (int l = 0; l < 32; l++) {
            const int i = 32 * w + l, *o = out + 5 * i;
            scan += in[i];
            ck_assert_msg(o[0] == (l == 0 ? sum : 0) && o[1] == sum && o[2] == scan &&
                          (unsigned)o[3] == ballot && o[4] == in[32 * w + (l + 3) % 32],
                          "warp %d lane %d: down-sum %d, xor-sum %d (want %d), scan %d (want "
                          "%d), ballot 0x%08x (want 0x%08x), shfl %d (want %d)", w, l, o[0],
                          o[1], sum, o[2], scan, (unsigned)o[3], ballot, o[4],
                          in[32 * w + (l + 3) % 32]);
        }
    }
    cudaFree(d_in);
    cudaFree(d_out);
}
END_TEST

START_TEST(test_emu_misuse)
{
    static const struct { cudaError_t error; const char *detail; } want[] = {
        {cudaErrorLaunchFailure, "__syncthreads() at emu_selftest.cu:60 reached by 5 of 64 "
                                 "threads of block (0,0,0) of early_return_kernel"},
        {cudaErrorInvalidConfiguration, "launch of early_return_kernel with grid (1,1,1) and "
                                        "block (1025,1,1)"},
        {cudaErrorIllegalAddress, "smem_kernel at emu_selftest.cu:66 uses 256 bytes of "
                                  "dynamic shared memory; the launch gave 128"},
        {cudaErrorIllegalAddress, "smem_kernel wrote past the end of its 128 bytes of dynamic "
                                  "shared memory"},
        {cudaErrorLaunchFailure, "warp 0 of block (0,0,0) of diverged_warp_kernel diverged: "
                                 "lane 0 is at __ballot_sync"},
        {cudaErrorLaunchFailure, "__shfl_sync at emu_selftest.cu:89 in thread 0 of block "
                                 "(0,0,0) of shfl_vs_barrier_kernel waits for lane 3, which "
                                 "is at __syncthreads() at emu_selftest.cu:87: deadlock"},
        {cudaErrorLaunchFailure, "reads lane 20, which does not exist (partial warp)"},
        {cudaErrorLaunchFailure, "threads of block (0,0,0) of divergent_barrier_kernel wait "
                                 "at different __syncthreads()"},
    };
    yl_emu_order order = yl_emu_set_order(YL_EMU_ORDER_FORWARD); /* the blocks named above */
    for (int i = 0; i < (int)(sizeof want / sizeof want[0]); i++) {
        cudaError_t e = yl_emu_selftest_misuse(i);
        ck_assert_msg(e == want[i].error && strstr(yl_emu_error_detail(), want[i].detail),
                      "misuse %d: %s, \"%s\"; expected %s with \"%s\"", i, cudaGetErrorName(e),
                      yl_emu_error_detail(), cudaGetErrorName(want[i].error), want[i].detail);
        ck_assert_int_eq(cudaGetLastError(), e);
        ck_assert_int_eq(cudaGetLastError(), cudaSuccess);
    }
    yl_emu_set_order(order);
}
END_TEST

/* cp.async lands only when a wait covers its group: before, the destination still holds
 * the block's poison (NaN); a zero-filled copy reads nothing; a thread that exits with
 * copies in flight fails the launch. */
START_TEST(test_emu_cp_async)
{
    float in[256], out[128];
    for (int i = 0; i < 256; i++)
        in[i] = (float)(i + 1);
    float *d_in = to_dev(in, sizeof in), *d_out = dev_alloc(sizeof out);
    for (int variant = 0; variant < 2; variant++) {
        ck_assert_cuda(yl_emu_selftest_cp_async(d_in, d_out, variant));
        from_dev(out, d_out, sizeof out);
        for (int t = 0; t < 32; t++) {
            const float *o = out + 4 * t;
            float group0 = variant == 1 && t % 2 ? 0.0f : in[4 * t];
            ck_assert_msg(isnan(o[0]) && o[1] == group0 && isnan(o[2]) && o[3] == in[128 + 4 * t],
                          "variant %d thread %d: before any wait %g (want NaN), group 0 %g "
                          "(want %g), group 1 after wait_group(1) %g (want NaN), after "
                          "wait_group(0) %g (want %g)", variant, t, o[0], o[1], group0, o[2],
                          o[3], in[128 + 4 * t]);
        }
    }
    ck_assert_int_eq(yl_emu_selftest_cp_async(d_in, d_out, 2), cudaErrorLaunchFailure);
    ck_assert_msg(strstr(yl_emu_error_detail(), "thread 0 of block (0,0,0) of cp_async_kernel "
                         "exited with 2 cp.async copies no cp.async.wait_group covered"),
                  "%s", yl_emu_error_detail());
    ck_assert_int_eq(cudaGetLastError(), cudaErrorLaunchFailure);
    cudaFree(d_in);
    cudaFree(d_out);
}
END_TEST

/* ldmatrix.x4: lane l holds, of matrix i, halves 2 (l % 4) and + 1 of row l / 4 (the low
 * half first), whatever order the rows sit in; a misaligned row fails the launch. */
START_TEST(test_emu_ldmatrix)
{
    uint32_t out[128];
    uint32_t *d_out = dev_alloc(sizeof out);
    ck_assert_cuda(yl_emu_selftest_ldmatrix(d_out, 0));
    from_dev(out, d_out, sizeof out);
    for (unsigned l = 0; l < 32; l++)
        for (unsigned i = 0; i < 4; i++) {
            uint32_t lo = 64 * i + 8 * (l / 4) + 2 * (l % 4), want = lo | (lo + 1) << 16;
            ck_assert_msg(out[4 * l + i] == want, "lane %u register %u: 0x%08x, want 0x%08x",
                          l, i, out[4 * l + i], want);
        }
    ck_assert_int_eq(yl_emu_selftest_ldmatrix(d_out, 1), cudaErrorLaunchFailure);
    ck_assert_msg(strstr(yl_emu_error_detail(), "ldmatrix.x4 at emu_selftest.cu") &&
                  strstr(yl_emu_error_detail(), "a row address is not 16-byte aligned"), "%s",
                  yl_emu_error_detail());
    ck_assert_int_eq(cudaGetLastError(), cudaErrorLaunchFailure);
    cudaFree(d_out);
}
END_TEST

/* Blocks run as plain calls until a thread reaches a sync point, then as fibers; the
 * counters say which. A reduction that forgets its __syncthreads runs as plain calls, where
 * (in the forward order) thread 0 finishes before thread 128 has written its value: the
 * missing barrier shows as a wrong sum instead of passing by luck of a GPU's timing. */
START_TEST(test_emu_modes_and_counters)
{
    enum { N = 1024 };
    float in[N], out[N / 256];
    for (int i = 0; i < N; i++)
        in[i] = (float)(i % 17);
    yl_emu_order order = yl_emu_set_order(YL_EMU_ORDER_FORWARD);
    yl_emu_counters_reset();
    float *d_in = to_dev(in, sizeof in), *d_out = dev_alloc(sizeof out);
    for (int sync = 0; sync < 2; sync++) {
        yl_emu_counters before, after;
        yl_emu_counters_get(&before);
        ck_assert_cuda(yl_emu_selftest_block_sum(d_in, d_out, N, sync));
        yl_emu_counters_get(&after);
        ck_assert_int_eq(after.fiber_blocks - before.fiber_blocks, sync ? N / 256 : 0);
        from_dev(out, d_out, sizeof out);
        for (int b = 0; b < N / 256; b++) {
            float s = 0;
            for (int i = 0; i < 256; i++)
                s += in[256 * b + i];
            ck_assert_msg((out[b] == s) == (sync == 1), "sync %d block %d: %g, exact sum %g",
                          sync, b, out[b], s);
        }
    }
    yl_emu_counters c;
    yl_emu_counters_get(&c);
    ck_assert_int_eq(c.allocations, 2);
    ck_assert_int_eq(c.h2d_copies, 1);
    ck_assert_int_eq(c.h2d_bytes, sizeof in);
    ck_assert_int_eq(c.d2h_copies, 2);
    ck_assert_int_eq(c.launches, 2);
    long live = c.live_allocations;
    cudaFree(d_in);
    cudaFree(d_out);
    yl_emu_counters_get(&c);
    ck_assert_int_eq(c.frees, 2);
    ck_assert_int_eq(c.live_allocations, live - 2);
    /* Copy direction is checked: a device pointer is not a host source. */
    float *d = dev_alloc(16);
    ck_assert_int_eq(cudaMemcpy(d, in, 16, cudaMemcpyDeviceToHost), cudaErrorInvalidValue);
    ck_assert_int_eq(cudaFree(in), cudaErrorInvalidDevicePointer);
    cudaFree(d);
    cudaGetLastError();
    yl_emu_set_order(order);
}
END_TEST

/* A launch runs its blocks and threads first to last, or last to first: the other order
 * catches the thread that reads a lower thread's write with no barrier, which the forward
 * order serves by luck (`make test-run-order` runs the kernel suites reversed). Either way a
 * warp runs as far as it can before the next starts. */
START_TEST(test_emu_run_order)
{
    enum { BLOCKS = 3, THREADS = 64, N = BLOCKS * THREADS, T = 256 };
    unsigned order[N], *d_counter = dev_alloc(sizeof(unsigned)), *d_order = dev_alloc(sizeof order);
    int in[T], out[T], *d_in, *d_out = dev_alloc(sizeof out);
    for (int t = 0; t < T; t++)
        in[t] = 1000 + t;
    d_in = to_dev(in, sizeof in);
    yl_emu_order before = yl_emu_set_order(YL_EMU_ORDER_FORWARD);
    for (int reverse = 0; reverse < 2; reverse++) {
        yl_emu_set_order(reverse ? YL_EMU_ORDER_REVERSE : YL_EMU_ORDER_FORWARD);
        ck_assert_cuda(cudaMemset(d_counter, 0, sizeof(unsigned)));
        ck_assert_cuda(yl_emu_selftest_run_order(d_counter, d_order, BLOCKS, THREADS));
        from_dev(order, d_order, sizeof order);
        for (unsigned i = 0; i < N; i++)
            ck_assert_uint_eq(order[i], reverse ? N - 1 - i : i);
        for (int sync = 0; sync < 2; sync++) {
            ck_assert_cuda(yl_emu_selftest_previous_thread(d_in, d_out, sync));
            from_dev(out, d_out, sizeof out);
            int right = 1;
            for (int t = 0; t < T; t++)
                right &= out[t] == in[t > 0 ? t - 1 : 0];
            /* Without the barrier, thread t - 1 has not run yet in the reverse order. */
            ck_assert_msg(right == (sync || !reverse), "reverse %d, sync %d: out[1] %d", reverse,
                          sync, out[1]);
            /* A warp goes on past its own collectives up to a barrier before the other runs. */
            ck_assert_cuda(yl_emu_selftest_other_warp(d_in, d_out, sync));
            from_dev(out, d_out, 64 * sizeof(int));
            right = 1;
            for (int t = 0; t < 64; t++)
                right &= out[t] == in[t ^ 32];
            ck_assert_msg(right == sync, "reverse %d, sync %d: other warp's out[0] %d", reverse,
                          sync, out[0]);
        }
    }
    yl_emu_set_order(before);
    cudaFree(d_counter);
    cudaFree(d_order);
    cudaFree(d_in);
    cudaFree(d_out);
}
END_TEST

static void count_calls(void *counter)
{
    ++*(int *)counter;
}

/* Stream capture records launches, async copies, memsets and host functions without running
 * them; the graph replays them in order, as often as it is launched; a synchronous call
 * during the capture is refused and invalidates it. */
START_TEST(test_emu_stream_capture)
{
    cudaStream_t stream;
    ck_assert_cuda(cudaStreamCreate(&stream));
    float *a = dev_alloc(4 * sizeof(float)), *sum = dev_alloc(4 * sizeof(float));
    const float ones[4] = {1, 1, 1, 1};
    float host[4] = {0};
    int calls = 0;
    ck_assert_cuda(cudaMemcpy(a, ones, sizeof ones, cudaMemcpyHostToDevice));

    ck_assert_cuda(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    ck_assert_cuda(cudaMemsetAsync(sum, 0, sizeof host, stream));
    ck_assert_status(yl_add_cuda(a, sum, 4, sum, stream), YOLACT_OK);
    ck_assert_status(yl_add_cuda(a, sum, 4, sum, stream), YOLACT_OK);
    ck_assert_cuda(cudaLaunchHostFunc(stream, count_calls, &calls));
    ck_assert_cuda(cudaMemcpyAsync(host, sum, sizeof host, cudaMemcpyDeviceToHost, stream));
    cudaGraph_t graph;
    ck_assert_cuda(cudaStreamEndCapture(stream, &graph));
    ck_assert_int_eq(calls, 0);
    ck_assert_float_eq(host[3], 0.0f);
    cudaGraphExec_t exec;
    ck_assert_cuda(cudaGraphInstantiate(&exec, graph, 0));
    ck_assert_cuda(cudaGraphDestroy(graph));
    for (int i = 1; i <= 2; i++) {
        ck_assert_cuda(cudaGraphLaunch(exec, stream));
        ck_assert_int_eq(calls, i);
        ck_assert_float_eq(host[3], 2.0f);   /* the memset runs again each time */
    }
    ck_assert_cuda(cudaGraphExecDestroy(exec));

    ck_assert_cuda(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    ck_assert_int_eq(cudaMemcpy(host, sum, sizeof host, cudaMemcpyDeviceToHost),
                     cudaErrorStreamCaptureUnsupported);
    ck_assert_ptr_nonnull(strstr(yl_emu_error_detail(), "cudaMemcpy while a stream is being "
                                                        "captured"));
    ck_assert_int_eq(cudaStreamEndCapture(stream, &graph), cudaErrorStreamCaptureInvalidated);
    ck_assert_ptr_null(graph);
    cudaGetLastError();
    cudaFree(a);
    cudaFree(sum);
    ck_assert_cuda(cudaStreamDestroy(stream));
}
END_TEST
/* ---- the emulated MMA ---------------------------------------------------------------------- */
/* The largest |d - (a b + c)| for d, c (m x n), a (m x 16), b (16 x n), row-major. */
static double matmul_error(const float *d, const float *a, const float *b, const float *c,
                           int m, int n)
{
    double worst = 0.0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = c[i * n + j];
            for (int k = 0; k < 16; k++)
                s += (double)a[i * 16 + k] * b[k * n + j];
            double e = fabs(d[i * n + j] - s);
            worst = e > worst ? e : worst;
        }
    return worst;
}

/* Multiples of 1/64 in [-2, 2) (exact in half) for a and b, any floats for c. */
static void mma_operands(uint64_t *rng, float *a, int na, float *b, int nb, float *c, int nc)
{
    for (int i = 0; i < na; i++)
        a[i] = floorf(yl_test_rand(rng, -128.0f, 128.0f)) / 64.0f;
    for (int i = 0; i < nb; i++)
        b[i] = floorf(yl_test_rand(rng, -128.0f, 128.0f)) / 64.0f;
    for (int i = 0; i < nc; i++)
        c[i] = yl_test_rand(rng, -4.0f, 4.0f);
}

/* Runs yl_emu_selftest_mma (one m16n8k16); returns matmul_error of its result. */
static double mma_error(int variant, const float *a, const float *b, const float *c)
{
    float *d_a = to_dev(a, 256 * 4), *d_b = to_dev(b, 128 * 4), *d_c = to_dev(c, 128 * 4);
    float *d_d = dev_alloc(128 * 4), got[128];
    ck_assert_cuda(yl_emu_selftest_mma(d_a, d_b, d_c, d_d, variant, 32));
    from_dev(got, d_d, sizeof got);
    cudaFree(d_a);
    cudaFree(d_b);
    cudaFree(d_c);
    cudaFree(d_d);
    return matmul_error(got, a, b, c, 16, 8);
}

/* Exact products of multiples of 2^-12 summed in double, one rounding to float of a value
 * below 2^6: within a few ulps of 2^6. */
#define MMA_TOLERANCE (8 * 0x1p-24 * 64)

START_TEST(test_emu_mma)
{
    uint64_t rng = 0x6a09e667f3bcc908ull;
    float a[256], b[128], c[128];
    for (int trial = 0; trial < 4; trial++) {
        mma_operands(&rng, a, 256, b, 128, c, 128);
        double e = mma_error(YL_EMU_MMA_RIGHT, a, b, c);
        ck_assert_msg(e <= MMA_TOLERANCE, "emulated MMA: max |error| %g against a scalar "
                      "matmul", e);
        /* Planted fragment-layout errors must show as wrong results. */
        double ea = mma_error(YL_EMU_MMA_SWAPPED_A, a, b, c);
        double eb = mma_error(YL_EMU_MMA_TRANSPOSED_B, a, b, c);
        ck_assert_msg(ea > 0.1 && eb > 0.1, "planted layout errors not caught: max |error| %g "
                      "(a[1], a[2] swapped), %g (B transposed)", ea, eb);
    }
    /* Lanes that exit before the MMA: reported, not computed with stale fragments. */
    float *d = dev_alloc(512 * 4);
    ck_assert_cuda(cudaMemset(d, 0, 512 * 4));
    cudaError_t err = yl_emu_selftest_mma(d, d, d, d, YL_EMU_MMA_RIGHT, 16);
    ck_assert_int_eq(err, cudaErrorLaunchFailure);
    ck_assert_msg(strstr(yl_emu_error_detail(), "only lanes 0x0000ffff arrived") != NULL,
                  "detail: %s", yl_emu_error_detail());
    cudaGetLastError();
    cudaFree(d);
}
END_TEST

/* The grid form (one collective for mi x ni MMAs) against the scalar matmul, in the
 * convolution's shape (2 x 4) and others; lanes that disagree on the grid are reported. */
START_TEST(test_emu_mma_grid)
{
    static const int grids[][2] = {{2, 4}, {1, 1}, {3, 1}, {1, 8}, {8, 8}};
    uint64_t rng = 0xbb67ae8584caa73bull;
    for (size_t g = 0; g < sizeof grids / sizeof grids[0]; g++) {
        int m = 16 * grids[g][0], n = 8 * grids[g][1];
        float *a = xmalloc((size_t)m * 16 * 4), *b = xmalloc((size_t)16 * n * 4);
        float *c = xmalloc((size_t)m * n * 4), *got = xmalloc((size_t)m * n * 4);
        mma_operands(&rng, a, m * 16, b, 16 * n, c, m * n);
        float *d_a = to_dev(a, (size_t)m * 64), *d_b = to_dev(b, (size_t)n * 64);
        float *d_c = to_dev(c, (size_t)m * n * 4), *d_d = dev_alloc((size_t)m * n * 4);
        ck_assert_cuda(yl_emu_selftest_mma_grid(d_a, d_b, d_c, d_d, grids[g][0], grids[g][1],
                                                0));
        from_dev(got, d_d, (size_t)m * n * 4);
        double e = matmul_error(got, a, b, c, m, n);
        ck_assert_msg(e <= MMA_TOLERANCE, "emulated %d x %d MMA grid: max |error| %g",
                      grids[g][0], grids[g][1], e);
        if (grids[g][1] > 1) {
            ck_assert_int_eq(yl_emu_selftest_mma_grid(d_a, d_b, d_c, d_d, grids[g][0],
                                                      grids[g][1], 1), cudaErrorLaunchFailure);
            ck_assert_msg(strstr(yl_emu_error_detail(), "different numbers of MMAs") != NULL,
                          "detail: %s", yl_emu_error_detail());
            cudaGetLastError();
        }
        cudaFree(d_a);
        cudaFree(d_b);
        cudaFree(d_c);
        cudaFree(d_d);
        free(a);
        free(b);
        free(c);
        free(got);
    }
}
END_TEST
Suite *emu_suite(void)
{
    Suite *s = suite_create("emu");
    TCase *tc = tcase_create("emu");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_emu_warp_collectives);
    tcase_add_test(tc, test_emu_misuse);
    tcase_add_test(tc, test_emu_cp_async);
    tcase_add_test(tc, test_emu_ldmatrix);
    tcase_add_test(tc, test_emu_modes_and_counters);
    tcase_add_test(tc, test_emu_run_order);
    tcase_add_test(tc, test_emu_stream_capture);
    tcase_add_test(tc, test_emu_mma);
    tcase_add_test(tc, test_emu_mma_grid);
    suite_add_tcase(s, tc);
    return s;
}
