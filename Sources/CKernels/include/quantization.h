#ifndef COCOFL_QUANTIZATION_H
#define COCOFL_QUANTIZATION_H
#include <stddef.h>
#include <stdint.h>

/// Folds BatchNorm (running statistics) into the preceding convolution: W'[o] = W[o]·γ[o]/√(σ²[o]+ε),
/// b'[o] = (b[o] − μ[o])·γ[o]/√(σ²[o]+ε) + β[o]. `bias` may be NULL (treated as 0). Weights are
/// [out_channels, per_channel] row-major.
void ck_fold_batchnorm(const float *weights, const float *bias, size_t out_channels, size_t per_channel,
                       const float *gamma, const float *beta, const float *mean, const float *variance, float epsilon,
                       float *folded_weights, float *folded_bias);

/// Symmetric per-output-channel int8 quantization: scale[o] = max|W[o]|/127 (1 if the row is zero),
/// q = round(W/scale) clamped to [−127, 127].
void ck_quantize_per_channel(const float *weights, size_t out_channels, size_t per_channel, float *scales, int8_t *quantized);

/// Swaps the output and input channel axes of grouped convolution weights [G, O/G, I/G, K] into the
/// deconvolution layout [G, I/G, O/G, K] (K = kernel elements). Element size 1 (int8) or 4 (fp32).
void ck_transpose_group_weights(const void *source, void *destination, size_t groups, size_t outputs_per_group,
                                size_t inputs_per_group, size_t kernel, size_t element_size);

/// Gradient preparation for an int8 input-gradient backward over channels-last data [pixels, channels]:
/// g' = g · (mask > 0 if mask) · channel_scale[c] · inverse_scale, rounded and clamped to int8.
/// `mask` is uint8 (post-ReLU int8 activations) or NULL.
void ck_quantize_gradient(const float *gradient, const uint8_t *mask, const float *channel_scale, float inverse_scale,
                          size_t pixels, size_t channels, int8_t *out);

/// fp32 twin of `ck_quantize_gradient` without quantization: out = g · (mask > 0 if mask), with a float mask.
void ck_mask_gradient(const float *gradient, const float *mask, size_t count, float *out);

/// out = g · (mask > 0) with a uint8 mask (post-ReLU int8 activations).
void ck_mask_gradient_u8(const float *gradient, const uint8_t *mask, size_t count, float *out);

/// Smallest value.
float ck_min(const float *values, size_t count);

/// Σ x·y, Σ x², Σ y² in double precision (cosine similarity and relative error in one pass).
void ck_similarity(const float *x, const float *y, size_t count, double *dot, double *xx, double *yy, double *squared_difference);
#endif
