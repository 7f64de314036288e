// The OpenMPI C API for Swift. OpenMPI defines its handles (MPI_COMM_WORLD, MPI_BYTE, MPI_SUM, MPI_IN_PLACE, ...)
// as casts of global objects, which do not import: each is wrapped in a prefixed static inline function.
#ifndef COCOFL_CMPI_SHIM_H
#define COCOFL_CMPI_SHIM_H
#include <mpi.h>

static inline MPI_Comm cocofl_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype cocofl_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype cocofl_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Datatype cocofl_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Op cocofl_mpi_max(void) { return MPI_MAX; }
static inline MPI_Op cocofl_mpi_sum(void) { return MPI_SUM; }
static inline void *cocofl_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Info cocofl_mpi_info_null(void) { return MPI_INFO_NULL; }
static inline int cocofl_mpi_comm_type_shared(void) { return MPI_COMM_TYPE_SHARED; }
static inline int cocofl_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline int cocofl_mpi_success(void) { return MPI_SUCCESS; }
static inline int cocofl_mpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }

#endif
