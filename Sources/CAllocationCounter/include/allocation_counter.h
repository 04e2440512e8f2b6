#ifndef CNNSPEC_ALLOCATION_COUNTER_H
#define CNNSPEC_ALLOCATION_COUNTER_H

/// Number of heap allocations (malloc, calloc, realloc, aligned variants) made by the process so far.
/// Counts only when the program links this library (the cnnspec executable does); 0 where unsupported.
unsigned long long cnnspec_allocation_count(void);

/// Makes the calling thread's allocations count (on != 0) or not (0) in cnnspec_counted_allocation_count.
void cnnspec_count_this_thread(int on);

/// Number of heap allocations made so far by threads while they counted (see cnnspec_count_this_thread):
/// a per-thread view that other threads' allocations do not disturb, for deterministic zero-allocation tests.
unsigned long long cnnspec_counted_allocation_count(void);

/// Bytes (usable sizes) the calling thread allocated and freed while it counted, net: what building an object
/// keeps, as the difference of two readings around it; other threads cannot disturb it. 0 where unsupported.
long long cnnspec_this_thread_live_bytes(void);

#endif
