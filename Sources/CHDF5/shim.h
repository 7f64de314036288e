#ifndef COCOFL_CHDF5_SHIM_H
#define COCOFL_CHDF5_SHIM_H

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>

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

/* Whether link `name` in `loc` is an external link: 1 (and its target file and object copied into the buffers,
 * NUL-terminated and truncated to their sizes), 0 for a hard or soft link, negative on error (no such link). */
static inline int chdf5_external_link_target(hid_t loc, const char *name, char *file, size_t file_size,
                                             char *object, size_t object_size) {
    H5L_info_t info;
    if (H5Lget_info(loc, name, &info, H5P_DEFAULT) < 0) return -1;
    if (info.type != H5L_TYPE_EXTERNAL) return 0;
    size_t size = info.u.val_size;
    char *buffer = (char *)malloc(size + 1);
    if (!buffer) return -1;
    const char *target_file = NULL, *target_object = NULL;
    unsigned link_flags = 0;
    if (H5Lget_val(loc, name, buffer, size, H5P_DEFAULT) < 0
        || H5Lunpack_elink_val(buffer, size, &link_flags, &target_file, &target_object) < 0) {
        free(buffer);
        return -1;
    }
    snprintf(file, file_size, "%s", target_file);
    snprintf(object, object_size, "%s", target_object);
    free(buffer);
    return 1;
}

/* Copies the object `source_name` of `source` to `destination_name` in `destination`, replacing every
 * external link below it by a copy of its target (H5O_COPY_EXPAND_EXT_LINK_FLAG). */
static inline herr_t chdf5_copy_expanding_external_links(hid_t source, const char *source_name, hid_t destination,
                                                         const char *destination_name) {
    hid_t options = H5Pcreate(H5P_OBJECT_COPY);
    if (options < 0) return -1;
    herr_t status = H5Pset_copy_object(options, H5O_COPY_EXPAND_EXT_LINK_FLAG);
    if (status >= 0) status = H5Ocopy(source, source_name, destination, destination_name, options, H5P_DEFAULT);
    H5Pclose(options);
    return status;
}

#endif
