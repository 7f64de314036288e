#ifndef COCOFL_CKERNELS_CLONES_H
#define COCOFL_CKERNELS_CLONES_H
/* Hot elementwise kernels are built for AVX-512, AVX2 and baseline x86-64; the loader picks the best one. */
#if defined(__x86_64__) && defined(__clang__)
#define CK_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CK_CLONES
#endif
#endif
