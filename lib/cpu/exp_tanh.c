/* expf and tanhf eight at a time (exp_tanh.h), the same operations as glibc's scalar ones so
 * the same bits: expf is the exp2f-table algorithm of ARM's optimized-routines (MIT), as
 * glibc builds it for processors with FMA (__expf_fma: its multiply-adds fused); tanhf is
 * fdlibm's (tanh from expm1f), float operations only. The head's softmax and tanh called the
 * scalar functions once a value: 10 of the 13 ms of the parity network's largest head level
 * at one thread. Vectors holding a value off the common path (expf: |x| >= 88 or NaN; tanhf:
 * |x| >= 22, |x| < 2^-55, zero, NaN) take the scalar functions for all eight. Without AVX2
 * and FMA everything does. */
#include "cpu/exp_tanh.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && defined(__x86_64__)
#define YL_EXP_TANH_VECTOR 1
#include <immintrin.h>
#define YL_AVX2_FMA __attribute__((target("avx2,fma")))

/* expf's table: 2^(i/32)'s bits less i << 47, and its constants (glibc's __exp2f_data). */
static const uint64_t exp2_tab[32] = {
    0x3ff0000000000000, 0x3fefd9b0d3158574, 0x3fefb5586cf9890f, 0x3fef9301d0125b51,
    0x3fef72b83c7d517b, 0x3fef54873168b9aa, 0x3fef387a6e756238, 0x3fef1e9df51fdee1,
    0x3fef06fe0a31b715, 0x3feef1a7373aa9cb, 0x3feedea64c123422, 0x3feece086061892d,
    0x3feebfdad5362a27, 0x3feeb42b569d4f82, 0x3feeab07dd485429, 0x3feea47eb03a5585,
    0x3feea09e667f3bcd, 0x3fee9f75e8ec5f74, 0x3feea11473eb0187, 0x3feea589994cce13,
    0x3feeace5422aa0db, 0x3feeb737b0cdc5e5, 0x3feec49182a3f090, 0x3feed503b23e255d,
    0x3feee89f995ad3ad, 0x3feeff76f2fb5e47, 0x3fef199bdd85529c, 0x3fef3720dcef9069,
    0x3fef5818dcfba487, 0x3fef7c97337b9b5f, 0x3fefa4afa2a490da, 0x3fefd0765b6e4540};
enum {
    EXP_INV_LN2_N = 0, /* 32 / ln 2 */
    EXP_C0,            /* 2^(r/32) ~ C0 r^3 + C1 r^2 + C2 r + 1 */
    EXP_C1,
    EXP_C2,
    EXP_SHIFT          /* 1.5 * 2^52: rounds to an integer, ties to even */
};
static const uint64_t exp_const[] = {0x40471547652b82fe, 0x3ebc6af84b912394,
                                     0x3f2ebfce50fac4f3, 0x3f962e42ff0c52d6,
                                     0x4338000000000000};

static inline YL_AVX2_FMA __m256d exp_c(int i)
{
    double d;
    memcpy(&d, &exp_const[i], sizeof d);
    return _mm256_set1_pd(d);
}

/* Four of expf's values on the common path, in double as glibc computes them. */
static inline YL_AVX2_FMA __m128 expf4(__m128 x)
{
    const __m256d xd = _mm256_cvtps_pd(x), inv_ln2 = exp_c(EXP_INV_LN2_N);
    const __m256d shifted = _mm256_fmadd_pd(inv_ln2, xd, exp_c(EXP_SHIFT));
    const __m256i ki = _mm256_castpd_si256(shifted);
    const __m256d kd = _mm256_sub_pd(shifted, exp_c(EXP_SHIFT));
    const __m256d r = _mm256_fmsub_pd(inv_ln2, xd, kd);
    __m256i t = _mm256_i64gather_epi64((const long long *)exp2_tab,
                                       _mm256_and_si256(ki, _mm256_set1_epi64x(31)), 8);
    t = _mm256_add_epi64(t, _mm256_slli_epi64(ki, 47));
    const __m256d z = _mm256_fmadd_pd(exp_c(EXP_C0), r, exp_c(EXP_C1));
    const __m256d r2 = _mm256_mul_pd(r, r);
    __m256d y = _mm256_fmadd_pd(exp_c(EXP_C2), r, _mm256_set1_pd(1.0));
    y = _mm256_fmadd_pd(z, r2, y);
    return _mm256_cvtpd_ps(_mm256_mul_pd(y, _mm256_castsi256_pd(t)));
}

static YL_AVX2_FMA void expf_avx2(float *x, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        /* glibc's special cases: the top 12 bits of |x| at 88's or above */
        const __m256i top = _mm256_and_si256(_mm256_srli_epi32(_mm256_castps_si256(v), 20),
                                             _mm256_set1_epi32(0x7ff));
        const __m256i off = _mm256_cmpgt_epi32(top, _mm256_set1_epi32(0x429));
        if (!_mm256_testz_si256(off, off)) {
            for (int j = 0; j < 8; j++)
                x[i + j] = expf(x[i + j]);
            continue;
        }
        _mm256_storeu_ps(x + i, _mm256_set_m128(expf4(_mm256_extractf128_ps(v, 1)),
                                                expf4(_mm256_castps256_ps128(v))));
    }
    for (; i < n; i++)
        x[i] = expf(x[i]);
}

typedef float v8f __attribute__((vector_size(32)));
typedef uint32_t v8u __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

static inline YL_AVX2_FMA v8f bits_f(v8u u)
{
    v8f f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline YL_AVX2_FMA v8u f_bits(v8f f)
{
    v8u u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Lanes of a where mask is all ones, of b where it is zero. */
static inline YL_AVX2_FMA v8f pick(v8i mask, v8f a, v8f b)
{
    return bits_f(((v8u)mask & f_bits(a)) | (~(v8u)mask & f_bits(b)));
}

static inline YL_AVX2_FMA v8i pick_int(v8i mask, v8i a, v8i b) { return (mask & a) | (~mask & b); }

static inline YL_AVX2_FMA v8f splat(uint32_t bits) { return bits_f((v8u){0} + bits); }

/* fdlibm's expm1f for tanhf's arguments u = 2|x| (|x| >= 1) or -2|x| (|x| < 1), |x| in
 * [2^-55, 22): every branch it can take there, each lane picking its own. */
static inline YL_AVX2_FMA v8f expm1f8(v8f u)
{
    const v8f ln2_hi = splat(0x3f317180), ln2_lo = splat(0x3717f7d1),
              inv_ln2 = splat(0x3fb8aa3b), q1 = splat(0xbd088889), q2 = splat(0x3ad00d01),
              q3 = splat(0xb8a670cd), q4 = splat(0x36867e54), q5 = splat(0xb457edbb);
    const v8f one = (v8f){0} + 1.0f, half = (v8f){0} + 0.5f;
    const v8u hu = f_bits(u) & 0x7fffffffu;
    const v8i neg = u < 0.0f;
    /* argument reduction: u = k ln2 + x + c */
    const v8i reduce = (v8i)(hu > 0x3eb17218u), near = (v8i)(hu < 0x3f851592u);
    const v8i k_far = __builtin_convertvector(inv_ln2 * u + pick(neg, -half, half), v8i);
    const v8f t_far = __builtin_convertvector(k_far, v8f);
    v8f hi = pick(near, pick(neg, u + ln2_hi, u - ln2_hi), u - t_far * ln2_hi);
    v8f lo = pick(near, pick(neg, -ln2_lo, ln2_lo), t_far * ln2_lo);
    const v8i k = reduce & pick_int(near, pick_int(neg, (v8i){0} - 1, (v8i){0} + 1), k_far);
    const v8f xr = pick(reduce, hi - lo, u);
    const v8f c = pick(reduce, (hi - xr) - lo, (v8f){0});
    /* x in the primary range */
    const v8f hfx = half * xr, hxs = xr * hfx;
    const v8f r1 = one + hxs * (q1 + hxs * (q2 + hxs * (q3 + hxs * (q4 + hxs * q5))));
    const v8f t = 3.0f - r1 * hfx;
    v8f e = hxs * ((r1 - t) / (6.0f - xr * t));
    const v8f k0 = xr - (xr * e - hxs);
    e = (xr * (e - c) - c);
    e -= hxs;
    const v8f km1 = half * (xr - e) - half;
    const v8f k1 = pick(xr < -0.25f, -2.0f * (e - (xr + half)), one + 2.0f * (xr - e));
    const v8u exp_k = (v8u)k << 23;
    const v8f wide = bits_f(f_bits(one - (e - xr)) + exp_k) - one; /* k <= -2 or k > 56 */
    const v8u kk = (v8u)k & 31u;
    const v8f low = bits_f(f_bits(bits_f(0x3f800000u - (0x1000000u >> kk)) - (e - xr)) + exp_k);
    const v8f mid = bits_f(f_bits(xr - (e + bits_f((0x7fu - (v8u)k) << 23)) + one) + exp_k);
    v8f y = pick(k < 23, low, mid);
    y = pick((k <= -2) | (k > 56), wide, y);
    y = pick(k == 1, k1, y);
    y = pick(k == -1, km1, y);
    y = pick(k == 0, k0, y);
    return pick((v8i)(hu < 0x33000000u), u, y); /* |u| < 2^-25: u itself */
}

static YL_AVX2_FMA void tanhf_avx2(float *x, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        v8f v;
        memcpy(&v, x + i, sizeof v);
        const v8u ix = f_bits(v) & 0x7fffffffu;
        const v8i off = (v8i)(ix < 0x24000000u) | (v8i)(ix >= 0x41b00000u);
        if (!_mm256_testz_si256((__m256i)off, (__m256i)off)) {
            for (int j = 0; j < 8; j++)
                x[i + j] = tanhf(x[i + j]);
            continue;
        }
        const v8f ax = bits_f(ix);
        const v8i big = (v8i)(ix >= 0x3f800000u);
        const v8f t = expm1f8(pick(big, ax + ax, ax * -2.0f));
        const v8f z = pick(big, 1.0f - 2.0f / (t + 2.0f), -t / (t + 2.0f));
        const v8f r = pick(v < 0.0f, -z, z);
        memcpy(x + i, &r, sizeof r);
    }
    for (; i < n; i++)
        x[i] = tanhf(x[i]);
}

static int have_avx2_fma(void)
{
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

void yl_expf_inplace(float *x, size_t n)
{
#ifdef YL_EXP_TANH_VECTOR
    /* glibc runs __expf_fma exactly where AVX2 and FMA are usable */
    if (have_avx2_fma()) {
        expf_avx2(x, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++)
        x[i] = expf(x[i]);
}

void yl_tanhf_inplace(float *x, size_t n)
{
#ifdef YL_EXP_TANH_VECTOR
    if (have_avx2_fma()) {
        tanhf_avx2(x, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++)
        x[i] = tanhf(x[i]);
}
