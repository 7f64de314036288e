#ifndef COCOFL_CKERNELS_H
#define COCOFL_CKERNELS_H
#include <stddef.h>
#include <stdint.h>
#endif
