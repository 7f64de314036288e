#include "aggregation.h"

void ck_aggregation_accumulate(double *sum, const float *values, size_t count, double weight) {
    for (size_t i = 0; i < count; i++) sum[i] += weight * (double)values[i];
}

void ck_aggregation_blend(const double *sum, double inverse_total_weight, double mix, float *global, size_t count) {
    if (mix >= 1.0) {
        for (size_t i = 0; i < count; i++) global[i] = (float)(sum[i] * inverse_total_weight);
        return;
    }
    double keep = 1.0 - mix;
    for (size_t i = 0; i < count; i++)
        global[i] = (float)(mix * (sum[i] * inverse_total_weight) + keep * (double)global[i]);
}

int ck_scatter_accumulate(double *sum, double *weights, size_t rank, const size_t *global_shape,
                          const float *sub_values, const size_t *sub_shape, const int64_t *indices, double weight) {
    if (rank < 1 || rank > 4) return -1;
    // Pad to rank 4 with leading axes of size 1 covering index 0, so one loop nest serves every rank.
    static const int64_t zero = 0;
    size_t global[4], sub[4];
    const int64_t *axis_indices[4];
    size_t pad = 4 - rank;
    const int64_t *cursor = indices;
    for (size_t a = 0; a < 4; a++) {
        if (a < pad) {
            global[a] = 1;
            sub[a] = 1;
            axis_indices[a] = &zero;
        } else {
            global[a] = global_shape[a - pad];
            sub[a] = sub_shape[a - pad];
            axis_indices[a] = cursor;
            cursor += sub[a];
        }
    }
    const size_t stride2 = global[3], stride1 = global[2] * stride2, stride0 = global[1] * stride1;
    const int64_t *i0 = axis_indices[0], *i1 = axis_indices[1], *i2 = axis_indices[2], *i3 = axis_indices[3];
    const float *source = sub_values;
    for (size_t a = 0; a < sub[0]; a++) {
        size_t base0 = (size_t)i0[a] * stride0;
        for (size_t b = 0; b < sub[1]; b++) {
            size_t base1 = base0 + (size_t)i1[b] * stride1;
            for (size_t c = 0; c < sub[2]; c++) {
                size_t base2 = base1 + (size_t)i2[c] * stride2;
                double *sum_row = sum + base2;
                double *weight_row = weights + base2;
                for (size_t d = 0; d < sub[3]; d++) {
                    size_t g = (size_t)i3[d];
                    sum_row[g] += weight * (double)source[d];
                    weight_row[g] += weight;
                }
                source += sub[3];
            }
        }
    }
    return 0;
}

size_t ck_scatter_finalize(const double *sum, const double *weights, float *global, size_t count) {
    size_t covered = 0;
    for (size_t i = 0; i < count; i++) {
        if (weights[i] > 0) {
            global[i] = (float)(sum[i] / weights[i]);
            covered++;
        }
    }
    return covered;
}

int ck_all_finite(const float *values, size_t count) {
    /* A float is NaN or infinite exactly when its exponent bits are all ones; an integer test the compiler
       vectorizes (a float test would need fast-math, which would also assume away the NaNs we look for). */
    const uint32_t *bits = (const uint32_t *)values;
    uint32_t bad = 0;
    for (size_t i = 0; i < count; i++) bad |= (uint32_t)((bits[i] & 0x7f800000u) == 0x7f800000u);
    return bad == 0;
}
