#ifndef COCOFL_CZLIB_SHIM_H
#define COCOFL_CZLIB_SHIM_H
#include <zlib.h>
#endif
