#ifndef COCOFL_CDNNL_SHIM_H
#define COCOFL_CDNNL_SHIM_H
#include <oneapi/dnnl/dnnl.h>

/// DNNL_MEMORY_ALLOCATE is a pointer cast macro that Swift cannot import.
static inline void *cdnnl_memory_allocate(void) { return DNNL_MEMORY_ALLOCATE; }
/// DNNL_MEMORY_NONE is a pointer cast macro that Swift cannot import.
static inline void *cdnnl_memory_none(void) { return DNNL_MEMORY_NONE; }
/// DNNL_ARG_MULTIPLE_SRC + i, used by concat and sum.
static inline int cdnnl_arg_multiple_src(int i) { return DNNL_ARG_MULTIPLE_SRC + i; }
/// DNNL_ARG_ATTR_OUTPUT_SCALES is a macro expression Swift may fail to fold.
static inline int cdnnl_arg_attr_output_scales(void) { return DNNL_ARG_ATTR_OUTPUT_SCALES; }
/// DNNL_RUNTIME_F32_VAL is a union-punned macro that Swift cannot import.
static inline float cdnnl_runtime_f32_val(void) { return DNNL_RUNTIME_F32_VAL; }
#endif
