#ifndef COCOFL_CHDF5_SHIM_H
#define COCOFL_CHDF5_SHIM_H
#include <hdf5.h>
#endif
