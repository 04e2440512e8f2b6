// Counts heap allocations by wrapping glibc's allocator entry points. The executable's definitions
// take precedence over libc's for the whole process, and forward to glibc's __libc_* functions.
#include "allocation_counter.h"
#include <errno.h>

#if defined(__GLIBC__)
#include <stdatomic.h>
#include <stddef.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void __libc_free(void *pointer);
extern void *__libc_memalign(size_t alignment, size_t size);

static _Atomic unsigned long long allocations;
// Allocations made by threads that opted in with cnnspec_count_this_thread(1): lets a test count only
// its own thread and its pool's workers, whatever other tests allocate concurrently.
static _Atomic unsigned long long counted_allocations;
static _Thread_local int counting_this_thread;

// Per thread, while it counts: usable sizes of what it allocated less what it freed (a block freed by
// another thread stays counted), so a test can measure what building an object keeps whatever other
// tests allocate concurrently.
static _Thread_local long long thread_live_bytes;

extern size_t malloc_usable_size(void *pointer);

static inline void count_one(void) {
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    if (counting_this_thread) atomic_fetch_add_explicit(&counted_allocations, 1, memory_order_relaxed);
}

/// Adds (sign 1) or removes (sign -1) a block of a counting thread from the live bytes.
static inline void *track(void *pointer, long long sign) {
    if (counting_this_thread && pointer != NULL) {
        thread_live_bytes += sign * (long long)malloc_usable_size(pointer);
    }
    return pointer;
}

void *malloc(size_t size) { count_one(); return track(__libc_malloc(size), 1); }
void *calloc(size_t count, size_t size) { count_one(); return track(__libc_calloc(count, size), 1); }
void *realloc(void *pointer, size_t size) {
    count_one();
    track(pointer, -1);
    void *result = __libc_realloc(pointer, size);
    // A failed realloc keeps the old block.
    return track(result != NULL || size == 0 ? result : pointer, 1);
}
void free(void *pointer) { track(pointer, -1); __libc_free(pointer); }
void *memalign(size_t alignment, size_t size) { count_one(); return track(__libc_memalign(alignment, size), 1); }
void *aligned_alloc(size_t alignment, size_t size) { count_one(); return track(__libc_memalign(alignment, size), 1); }

int posix_memalign(void **result, size_t alignment, size_t size) {
    count_one();
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
    void *pointer = track(__libc_memalign(alignment, size), 1);
    if (pointer == NULL) return ENOMEM;
    *result = pointer;
    return 0;
}

long long cnnspec_this_thread_live_bytes(void) { return thread_live_bytes; }

unsigned long long cnnspec_allocation_count(void) {
    return atomic_load_explicit(&allocations, memory_order_relaxed);
}

void cnnspec_count_this_thread(int on) { counting_this_thread = on; }

unsigned long long cnnspec_counted_allocation_count(void) {
    return atomic_load_explicit(&counted_allocations, memory_order_relaxed);
}
#else
unsigned long long cnnspec_allocation_count(void) { return 0; }
void cnnspec_count_this_thread(int on) { (void)on; }
unsigned long long cnnspec_counted_allocation_count(void) { return 0; }
long long cnnspec_this_thread_live_bytes(void) { return 0; }
#endif
