#ifndef COCOFL_CKERNELS_H
#define COCOFL_CKERNELS_H
#include <stddef.h>
#include <stdint.h>

/// SGD step with PyTorch semantics: g += wd*w; if momentum: buf = momentum*buf + g (buf = g on the first step);
/// w -= lr * (momentum ? buf : g). `first_step` selects the buffer initialization.
void ck_sgd_update(float *weights, const float *gradient, float *momentum_buffer, size_t count,
                   float learning_rate, float momentum, float weight_decay, int first_step);

/// BatchNorm running statistics: running = (1-m)*running + m*batch, with the batch variance made unbiased
/// by n/(n-1) like PyTorch.
void ck_batchnorm_running_update(float *running_mean, float *running_var, const float *batch_mean,
                                 const float *batch_var, size_t channels, float momentum, size_t samples_per_channel);

/// Softmax cross-entropy over a [batch, classes] row-major matrix of logits: returns the mean loss, writes the
/// gradient of the mean loss w.r.t. the logits into `gradient` (may be NULL), the count of correct arg-max
/// predictions into `correct`, and each row's predicted class into `predictions` (may be NULL).
double ck_softmax_cross_entropy(const float *logits, const int32_t *labels, size_t batch, size_t classes,
                                float *gradient, int64_t *correct, int32_t *predictions);

/// y = a + b elementwise.
void ck_add(const float *a, const float *b, float *y, size_t count);

/// Largest |x[i]|.
float ck_absmax(const float *x, size_t count);

/// Peak fp32 FLOP/s micro-kernel: runs `iterations` rounds of independent AVX-512 FMAs (scalar fallback if the
/// CPU lacks AVX-512) and returns the FLOPs it performed.
double ck_fma_peak_kernel(size_t iterations);

/// FLOPs that `ck_fma_peak_kernel(iterations)` performs on this CPU.
double ck_fma_peak_flops(size_t iterations);
/// Fills `count` floats with draws of Swift's `Float.random(in: -bound...bound, using:)` from the SplitMix64
/// generator whose state is `*state` (advanced in place): the same algorithm bit for bit (Lemire's bounded integer
/// on 2^24 + 1 values, then delta * (r * 2^-24) + lower, unfused), so that models initialize identically in debug and
/// release builds; in C because generic Swift in a debug build takes seconds for resnet18's 11 M weights.
void ck_fill_uniform_splitmix(float *values, size_t count, float bound, uint64_t *state);

#endif
