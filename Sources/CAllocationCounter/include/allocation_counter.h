#ifndef CNNSPEC_ALLOCATION_COUNTER_H
#define CNNSPEC_ALLOCATION_COUNTER_H

/// Number of heap allocations (malloc, calloc, realloc, aligned variants) made by the process so far.
/// Counts only when the program links this library (the cnnspec executable does); 0 where unsupported.
unsigned long long cnnspec_allocation_count(void);

#endif
