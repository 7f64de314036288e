#ifndef COCOFL_CHDF5_SHIM_H
#define COCOFL_CHDF5_SHIM_H

#include <hdf5.h>

/*
 * HDF5 spells many constants as macros that expand to expressions (`(H5CHECK H5OPEN 0x0002u)`,
 * `(H5OPEN H5T_NATIVE_FLOAT_g)`, `((size_t)(-1))`), which Swift cannot import. Each one used by the Storage
 * module gets a prefixed `static inline` function here; the type and property-list class functions also run
 * `H5open()`, exactly as the macros do.
 */

/* File access flags for H5Fcreate / H5Fopen. */
static inline unsigned chdf5_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned chdf5_H5F_ACC_RDWR(void) { return H5F_ACC_RDWR; }
static inline unsigned chdf5_H5F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
static inline unsigned chdf5_H5F_ACC_EXCL(void) { return H5F_ACC_EXCL; }

/* Default identifiers and special sizes. */
static inline hid_t chdf5_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t chdf5_H5E_DEFAULT(void) { return H5E_DEFAULT; }
static inline hid_t chdf5_H5S_ALL(void) { return H5S_ALL; }
static inline hsize_t chdf5_H5S_UNLIMITED(void) { return H5S_UNLIMITED; }
static inline size_t chdf5_H5T_VARIABLE(void) { return H5T_VARIABLE; }

/* Property-list classes. */
static inline hid_t chdf5_H5P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }
static inline hid_t chdf5_H5P_LINK_CREATE(void) { return H5P_LINK_CREATE; }
static inline hid_t chdf5_H5P_FILE_ACCESS(void) { return H5P_FILE_ACCESS; }

/* In-memory (native) element types. */
static inline hid_t chdf5_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t chdf5_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t chdf5_H5T_NATIVE_INT8(void) { return H5T_NATIVE_INT8; }
static inline hid_t chdf5_H5T_NATIVE_UINT8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t chdf5_H5T_NATIVE_INT32(void) { return H5T_NATIVE_INT32; }
static inline hid_t chdf5_H5T_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }

/* In-file element types: fixed little-endian layouts, so a file reads the same on every machine. */
static inline hid_t chdf5_H5T_IEEE_F32LE(void) { return H5T_IEEE_F32LE; }
static inline hid_t chdf5_H5T_IEEE_F64LE(void) { return H5T_IEEE_F64LE; }
static inline hid_t chdf5_H5T_STD_I8LE(void) { return H5T_STD_I8LE; }
static inline hid_t chdf5_H5T_STD_U8LE(void) { return H5T_STD_U8LE; }
static inline hid_t chdf5_H5T_STD_I32LE(void) { return H5T_STD_I32LE; }
static inline hid_t chdf5_H5T_STD_I64LE(void) { return H5T_STD_I64LE; }

/* The C string type that string attributes are derived from. */
static inline hid_t chdf5_H5T_C_S1(void) { return H5T_C_S1; }

#endif
