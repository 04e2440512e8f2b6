// The few Open MPI calls cnnspec's data-parallel training makes (`MPIWorld`), as inline functions: Open MPI's
// MPI_COMM_WORLD, MPI_BYTE and friends are macros over global objects that Swift cannot import, so Swift
// calls these instead. Every collective cnnspec needs is built in Swift over `cnnspec_mpi_sendrecv`
// (a fixed order of additions, independent of the MPI library's reduction algorithms); only the exact
// copies (broadcast, barrier) use MPI's own collectives.
#include <mpi.h>

/// MPI_Init_thread asking for MPI_THREAD_SERIALIZED (the gradient buckets are reduced on a thread of their
/// own while backward runs, and the main thread makes no MPI call meanwhile); `provided` receives what the
/// library grants. Errors are returned (MPI_ERRORS_RETURN), not fatal, so cnnspec can name the failing rank.
/// Returns an MPI error code.
static inline int cnnspec_mpi_init(int *provided) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized) { MPI_Query_thread(provided); return MPI_SUCCESS; }
    int status = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, provided);
    if (status == MPI_SUCCESS) MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    return status;
}
static inline int cnnspec_mpi_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }
static inline int cnnspec_mpi_finalize(void) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    return finalized ? MPI_SUCCESS : MPI_Finalize();
}
static inline int cnnspec_mpi_rank(void) { int rank = 0; MPI_Comm_rank(MPI_COMM_WORLD, &rank); return rank; }
static inline int cnnspec_mpi_size(void) { int size = 1; MPI_Comm_size(MPI_COMM_WORLD, &size); return size; }
/// Ranks sharing this rank's node (shared-memory domain).
static inline int cnnspec_mpi_local_size(void) {
    MPI_Comm local;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local) != MPI_SUCCESS) return 1;
    int size = 1;
    MPI_Comm_size(local, &size);
    MPI_Comm_free(&local);
    return size;
}
/// Sends `send_bytes` bytes to `destination` while receiving `receive_bytes` from `source`, both under `tag`.
static inline int cnnspec_mpi_sendrecv(const void *send, int send_bytes, int destination, void *receive,
                                       int receive_bytes, int source, int tag) {
    return MPI_Sendrecv(send, send_bytes, MPI_BYTE, destination, tag, receive, receive_bytes, MPI_BYTE, source, tag,
                        MPI_COMM_WORLD, MPI_STATUS_IGNORE);
}
static inline int cnnspec_mpi_broadcast(void *bytes, int count, int root) {
    return MPI_Bcast(bytes, count, MPI_BYTE, root, MPI_COMM_WORLD);
}
static inline int cnnspec_mpi_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }
static inline void cnnspec_mpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }
static inline void cnnspec_mpi_error_string(int code, char *text, int capacity) {
    int length = 0;
    if (capacity < MPI_MAX_ERROR_STRING) { text[0] = 0; return; }
    MPI_Error_string(code, text, &length);
}
static inline int cnnspec_mpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
