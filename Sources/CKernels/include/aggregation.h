#ifndef COCOFL_AGGREGATION_H
#define COCOFL_AGGREGATION_H
#include <stddef.h>
#include <stdint.h>

/// Weighted accumulation of one device's full tensor: sum[i] += weight · values[i], in double precision so that
/// the order in which devices arrive does not change the float result.
void ck_aggregation_accumulate(double *sum, const float *values, size_t count, double weight);

/// CoCoFL blend of a key's accumulated uploads with the old global tensor:
/// global[i] = mix · sum[i] · inverse_total_weight + (1 − mix) · global[i], with mix = |S_k| / N.
/// When mix ≥ 1 the old value is not read (a NaN in a fully re-trained tensor does not survive).
void ck_aggregation_blend(const double *sum, double inverse_total_weight, double mix, float *global, size_t count);

/// Scatter-accumulates a sub-tensor into sum and weight arrays laid out over the global shape (row-major).
///
/// `rank` is 1 … 4. `global_shape[rank]` and `sub_shape[rank]` are the dimensions; `indices` holds, axis after
/// axis, sub_shape[a] global indices for axis a (Σ sub_shape entries in all). For every sub-tensor element
/// s[i0, …, ir] the global element g[indices_0[i0], …, indices_r[ir]] gets sum += weight · s and
/// weights += weight. Indices must be in range and distinct per axis (the caller checks).
/// Returns 0, or −1 if the rank is unsupported.
int ck_scatter_accumulate(double *sum, double *weights, size_t rank, const size_t *global_shape,
                          const float *sub_values, const size_t *sub_shape, const int64_t *indices, double weight);

/// Finalizes a scatter accumulation: global[i] = sum[i] / weights[i] where weights[i] > 0; elements nobody
/// covered keep their value bit-for-bit. Returns the number of covered elements.
size_t ck_scatter_finalize(const double *sum, const double *weights, float *global, size_t count);

/// 1 if every value is finite (no NaN, no ±infinity), else 0; a device update is checked before aggregation.
int ck_all_finite(const float *values, size_t count);
#endif
