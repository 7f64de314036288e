#include "ckernels.h"
#include "clones.h"
#include <math.h>

CK_CLONES
void ck_sgd_update(float *w, const float *g, float *buf, size_t n, float lr, float momentum, float wd, int first) {
    if (momentum == 0.0f || buf == NULL) {
        for (size_t i = 0; i < n; i++) w[i] -= lr * (g[i] + wd * w[i]);
        return;
    }
    if (first) {
        for (size_t i = 0; i < n; i++) { float d = g[i] + wd * w[i]; buf[i] = d; w[i] -= lr * d; }
    } else {
        for (size_t i = 0; i < n; i++) { float d = g[i] + wd * w[i]; buf[i] = momentum * buf[i] + d; w[i] -= lr * buf[i]; }
    }
}

void ck_batchnorm_running_update(float *rm, float *rv, const float *mean, const float *var, size_t c, float m, size_t n) {
    float unbias = n > 1 ? (float)n / (float)(n - 1) : 1.0f;
    for (size_t i = 0; i < c; i++) {
        rm[i] = (1.0f - m) * rm[i] + m * mean[i];
        rv[i] = (1.0f - m) * rv[i] + m * var[i] * unbias;
    }
}

double ck_softmax_cross_entropy(const float *logits, const int32_t *labels, size_t batch, size_t classes,
                                float *gradient, int64_t *correct, int32_t *predictions) {
    double total = 0;
    int64_t right = 0;
    for (size_t r = 0; r < batch; r++) {
        const float *row = logits + r * classes;
        float maximum = row[0];
        size_t best = 0;
        for (size_t k = 1; k < classes; k++) if (row[k] > maximum) { maximum = row[k]; best = k; }
        double sum = 0;
        for (size_t k = 0; k < classes; k++) sum += exp((double)row[k] - maximum);
        double logSum = log(sum) + maximum;
        int32_t label = labels[r];
        total += logSum - row[label];
        if ((int32_t)best == label) right++;
        if (predictions) predictions[r] = (int32_t)best;
        if (gradient) {
            float *out = gradient + r * classes;
            for (size_t k = 0; k < classes; k++) {
                double p = exp((double)row[k] - logSum);
                out[k] = (float)((p - (k == (size_t)label ? 1.0 : 0.0)) / (double)batch);
            }
        }
    }
    *correct = right;
    return total / (double)batch;
}

CK_CLONES
void ck_add(const float *a, const float *b, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

CK_CLONES
float ck_absmax(const float *x, size_t n) {
    float m = 0;
    for (size_t i = 0; i < n; i++) { float a = fabsf(x[i]); if (a > m) m = a; }
    return m;
}

#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx512f")))
static double fma_avx512(size_t iterations) {
    __m512 a0 = _mm512_set1_ps(1.0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    __m512 a8 = a0, a9 = a0, a10 = a0, a11 = a0;
    const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
    for (size_t i = 0; i < iterations; i++) {
        a0 = _mm512_fmadd_ps(a0, x, y); a1 = _mm512_fmadd_ps(a1, x, y); a2 = _mm512_fmadd_ps(a2, x, y);
        a3 = _mm512_fmadd_ps(a3, x, y); a4 = _mm512_fmadd_ps(a4, x, y); a5 = _mm512_fmadd_ps(a5, x, y);
        a6 = _mm512_fmadd_ps(a6, x, y); a7 = _mm512_fmadd_ps(a7, x, y); a8 = _mm512_fmadd_ps(a8, x, y);
        a9 = _mm512_fmadd_ps(a9, x, y); a10 = _mm512_fmadd_ps(a10, x, y); a11 = _mm512_fmadd_ps(a11, x, y);
    }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                             _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    volatile float sink = _mm512_reduce_add_ps(s);
    (void)sink;
    return (double)iterations * 12.0 * 16.0 * 2.0;
}

/* The same for CPUs with AVX2 and FMA but no AVX-512 (8 lanes), so that "of peak" means the same thing there. */
__attribute__((target("avx2,fma")))
static double fma_avx2(size_t iterations) {
    __m256 a0 = _mm256_set1_ps(1.0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    __m256 a8 = a0, a9 = a0, a10 = a0, a11 = a0;
    const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
    for (size_t i = 0; i < iterations; i++) {
        a0 = _mm256_fmadd_ps(a0, x, y); a1 = _mm256_fmadd_ps(a1, x, y); a2 = _mm256_fmadd_ps(a2, x, y);
        a3 = _mm256_fmadd_ps(a3, x, y); a4 = _mm256_fmadd_ps(a4, x, y); a5 = _mm256_fmadd_ps(a5, x, y);
        a6 = _mm256_fmadd_ps(a6, x, y); a7 = _mm256_fmadd_ps(a7, x, y); a8 = _mm256_fmadd_ps(a8, x, y);
        a9 = _mm256_fmadd_ps(a9, x, y); a10 = _mm256_fmadd_ps(a10, x, y); a11 = _mm256_fmadd_ps(a11, x, y);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    float lanes[8];
    _mm256_storeu_ps(lanes, s);
    volatile float sink = lanes[0] + lanes[7];
    (void)sink;
    return (double)iterations * 12.0 * 8.0 * 2.0;
}
#endif

double ck_fma_peak_kernel(size_t iterations) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f")) return fma_avx512(iterations);
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return fma_avx2(iterations);
#endif
    float a[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    for (size_t i = 0; i < iterations; i++)
        for (int k = 0; k < 8; k++) a[k] = a[k] * 0.999999f + 1e-7f;
    volatile float sink = a[0] + a[7];
    (void)sink;
    return (double)iterations * 8.0 * 2.0;
}

double ck_fma_peak_flops(size_t iterations) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f")) return (double)iterations * 12.0 * 16.0 * 2.0;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return (double)iterations * 12.0 * 8.0 * 2.0;
#endif
    return (double)iterations * 8.0 * 2.0;
}

static inline uint64_t ck_splitmix64_next(uint64_t *state) {
    *state += 0x9E3779B97F4A7C15ull;
    uint64_t z = *state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void ck_fill_uniform_splitmix(float *values, size_t count, float bound, uint64_t *state) {
#pragma clang fp contract(off)
    const float lower = -bound, upper = bound;
    const float delta = upper - lower;
    const uint32_t max_significand = 1u << 24;
    const uint32_t upper_bound = max_significand + 1;  // draws in 0 ... 2^24 (Float.random's closed range)
    const float half_ulp_of_one = 0x1p-24f;
    for (size_t i = 0; i < count; i++) {
        uint32_t random = (uint32_t)ck_splitmix64_next(state);
        uint64_t product = (uint64_t)random * upper_bound;
        if ((uint32_t)product < upper_bound) {
            const uint32_t threshold = (0u - upper_bound) % upper_bound;
            while ((uint32_t)product < threshold) {
                random = (uint32_t)ck_splitmix64_next(state);
                product = (uint64_t)random * upper_bound;
            }
        }
        const uint32_t drawn = (uint32_t)(product >> 32);
        if (drawn == max_significand) {
            values[i] = upper;
            continue;
        }
        const float unit = (float)drawn * half_ulp_of_one;
        const float scaled = delta * unit;
        values[i] = scaled + lower;
    }
}
