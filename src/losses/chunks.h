/* Deterministic parallel sums for the losses (private to src/losses).
 *
 * A sum over `units` (elements or image rows) is cut into at most DOUBT_LOSSES_CHUNKS
 * contiguous chunks whose bounds depend only on `units`; each chunk is summed in order and the
 * partial sums are added in chunk order. Which thread runs which chunk changes nothing, so
 * results are bit-identical for any thread count.
 */
#ifndef DOUBT_LOSSES_CHUNKS_H
#define DOUBT_LOSSES_CHUNKS_H

#include <stdint.h>

#include "losses.h"

static inline int losses_chunk_count(int64_t units)
{
    return units < DOUBT_LOSSES_CHUNKS ? (int)units : DOUBT_LOSSES_CHUNKS;
}

static inline int64_t losses_chunk_start(int64_t units, int chunks, int i)
{
    return units / chunks * i + units % chunks * i / chunks;
}

static inline double losses_sum_partials(const double *partial, int chunks)
{
    double sum = 0;
    for (int i = 0; i < chunks; i++)
        sum += partial[i];
    return sum;
}

#endif
