#include "arena.h"

#include <stdlib.h>
#include <string.h>

struct doubt_arena_chunk {
    doubt_arena_chunk *next;
    size_t size;
    size_t used;
    unsigned char *data;
};

enum { MIN_CHUNK_BYTES = 1 << 20 };

static size_t align_up(size_t bytes)
{
    return (bytes + DOUBT_ARENA_ALIGN - 1) & ~(size_t)(DOUBT_ARENA_ALIGN - 1);
}

static doubt_arena_chunk *chunk_new(size_t size)
{
    doubt_arena_chunk *chunk = malloc(sizeof *chunk);
    if (!chunk)
        return NULL;
    chunk->data = aligned_alloc(DOUBT_ARENA_ALIGN, size);
    if (!chunk->data) {
        free(chunk);
        return NULL;
    }
    chunk->size = size;
    chunk->used = 0;
    chunk->next = NULL;
    return chunk;
}

static int push_chunk(doubt_arena *arena, size_t size)
{
    size = align_up(size < MIN_CHUNK_BYTES ? MIN_CHUNK_BYTES : size);
    doubt_arena_chunk *chunk = chunk_new(size);
    if (!chunk)
        return 0;
    chunk->next = arena->chunks;
    arena->chunks = chunk;
    arena->capacity_bytes += size;
    return 1;
}

int doubt_arena_reserve(doubt_arena *arena, size_t bytes)
{
    doubt_arena_chunk *head = arena->chunks;
    if (head && head->size - head->used >= align_up(bytes))
        return 1;
    return push_chunk(arena, bytes);
}

void *doubt_arena_alloc(doubt_arena *arena, size_t bytes)
{
    size_t need = align_up(bytes ? bytes : 1);
    if (!doubt_arena_reserve(arena, need))
        return NULL;
    doubt_arena_chunk *head = arena->chunks;
    void *p = head->data + head->used;
    head->used += need;
    arena->used_bytes += need;
    memset(p, 0, need);
    return p;
}

void doubt_arena_reset(doubt_arena *arena)
{
    doubt_arena_chunk *keep = NULL;
    for (doubt_arena_chunk *c = arena->chunks; c; c = c->next)
        if (!keep || c->size > keep->size)
            keep = c;
    doubt_arena_chunk *c = arena->chunks;
    while (c) {
        doubt_arena_chunk *next = c->next;
        if (c != keep) {
            free(c->data);
            free(c);
        }
        c = next;
    }
    arena->chunks = keep;
    arena->capacity_bytes = keep ? keep->size : 0;
    arena->used_bytes = 0;
    if (keep) {
        keep->used = 0;
        keep->next = NULL;
    }
}

void doubt_arena_release(doubt_arena *arena)
{
    doubt_arena_reset(arena);
    if (arena->chunks) {
        free(arena->chunks->data);
        free(arena->chunks);
    }
    arena->chunks = NULL;
    arena->capacity_bytes = 0;
}
