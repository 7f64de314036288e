#include "quantization.h"
#include "clones.h"
#include <math.h>
#include <string.h>

void ck_fold_batchnorm(const float *w, const float *b, size_t oc, size_t per, const float *gamma, const float *beta,
                       const float *mean, const float *var, float eps, float *fw, float *fb) {
    for (size_t o = 0; o < oc; o++) {
        float factor = gamma[o] / sqrtf(var[o] + eps);
        for (size_t i = 0; i < per; i++) fw[o * per + i] = w[o * per + i] * factor;
        fb[o] = ((b ? b[o] : 0.0f) - mean[o]) * factor + beta[o];
    }
}

void ck_quantize_per_channel(const float *w, size_t oc, size_t per, float *scales, int8_t *q) {
    for (size_t o = 0; o < oc; o++) {
        float m = 0;
        for (size_t i = 0; i < per; i++) { float a = fabsf(w[o * per + i]); if (a > m) m = a; }
        float scale = m > 0 ? m / 127.0f : 1.0f;
        scales[o] = scale;
        float inverse = 1.0f / scale;
        for (size_t i = 0; i < per; i++) {
            float v = nearbyintf(w[o * per + i] * inverse);
            if (v > 127) v = 127;
            if (v < -127) v = -127;
            q[o * per + i] = (int8_t)v;
        }
    }
}

void ck_transpose_group_weights(const void *src, void *dst, size_t g, size_t opg, size_t ipg, size_t k, size_t es) {
    const char *s = (const char *)src;
    char *d = (char *)dst;
    for (size_t gi = 0; gi < g; gi++)
        for (size_t o = 0; o < opg; o++)
            for (size_t i = 0; i < ipg; i++)
                memcpy(d + (((gi * ipg + i) * opg + o) * k) * es, s + (((gi * opg + o) * ipg + i) * k) * es, k * es);
}


/* Round half to even without a libm call, so the loop vectorizes: exact for |v| < 2^22 (our v is clamped to 127). */
static inline float round_even(float v) { return (v + 12582912.0f) - 12582912.0f; }

CK_CLONES
void ck_quantize_gradient(const float *g, const uint8_t *mask, const float *cs, float inv, size_t pixels, size_t channels,
                          int8_t *out) {
    size_t n = pixels * channels;
    if (cs == NULL) {
        for (size_t i = 0; i < n; i++) {
            float v = g[i] * inv;
            if (mask) v = mask[i] ? v : 0.0f;
            v = v > 127.0f ? 127.0f : (v < -127.0f ? -127.0f : v);
            out[i] = (int8_t)(int)round_even(v);
        }
        return;
    }
    for (size_t p = 0; p < pixels; p++) {
        for (size_t c = 0; c < channels; c++) {
            size_t i = p * channels + c;
            float v = g[i] * cs[c] * inv;
            if (mask) v = mask[i] ? v : 0.0f;
            v = v > 127.0f ? 127.0f : (v < -127.0f ? -127.0f : v);
            out[i] = (int8_t)(int)round_even(v);
        }
    }
}

CK_CLONES
void ck_mask_gradient(const float *g, const float *mask, size_t n, float *out) {
    for (size_t i = 0; i < n; i++) out[i] = mask[i] > 0 ? g[i] : 0.0f;
}

float ck_min(const float *x, size_t n) {
    float m = n ? x[0] : 0;
    for (size_t i = 1; i < n; i++) if (x[i] < m) m = x[i];
    return m;
}

void ck_similarity(const float *x, const float *y, size_t n, double *dot, double *xx, double *yy, double *sd) {
    double a = 0, b = 0, c = 0, d = 0;
    for (size_t i = 0; i < n; i++) {
        double u = x[i], v = y[i];
        a += u * v; b += u * u; c += v * v; d += (u - v) * (u - v);
    }
    *dot = a; *xx = b; *yy = c; *sd = d;
}

CK_CLONES
void ck_mask_gradient_u8(const float *g, const uint8_t *mask, size_t n, float *out) {
    for (size_t i = 0; i < n; i++) out[i] = mask[i] ? g[i] : 0.0f;
}
