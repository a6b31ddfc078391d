/* Arena: memory for activations, owned by one context.
 *
 * Allocations are 64-byte aligned (a cache line, and oneDNN's preferred alignment) and live
 * until doubt_arena_reset or doubt_arena_release; there is no per-allocation free. The arena
 * grows in chunks and never moves a pointer it handed out. A caller that knows its footprint
 * (a network built for one input shape) reserves it once, so steady-state work allocates
 * nothing.
 */
#ifndef DOUBT_CORE_ARENA_H
#define DOUBT_CORE_ARENA_H

#include <stddef.h>

typedef struct doubt_arena_chunk doubt_arena_chunk;

typedef struct {
    doubt_arena_chunk *chunks; /* newest first; allocations come from the newest */
    size_t used_bytes;         /* sum of aligned sizes handed out since the last reset */
    size_t capacity_bytes;     /* sum of chunk sizes */
} doubt_arena;

#define DOUBT_ARENA_ALIGN 64

/* Ensures a single allocation of `bytes` (or several summing to it) fits without growing. */
int doubt_arena_reserve(doubt_arena *arena, size_t bytes);
/* Zero-filled, aligned memory; NULL when out of memory. */
void *doubt_arena_alloc(doubt_arena *arena, size_t bytes);
/* Forgets every allocation but keeps the largest chunk for reuse. */
void doubt_arena_reset(doubt_arena *arena);
void doubt_arena_release(doubt_arena *arena);

#endif
