/* SHA-256 (FIPS 180-4), for naming the exact weights a prediction came from.
 *
 *     doubt_sha256 h;
 *     doubt_sha256_init(&h);
 *     doubt_sha256_update(&h, data, n);           // any number of times
 *     uint8_t digest[32]; doubt_sha256_final(&h, digest);
 *
 *     char hex[65];
 *     st = doubt_sha256_file("w.safetensors", hex, &err);   // lowercase hex, NUL-terminated
 */
#ifndef DOUBT_IO_SHA256_H
#define DOUBT_IO_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct {
    uint32_t state[8];
    uint64_t length;   /* bytes hashed so far */
    uint8_t block[64]; /* pending input, `fill` bytes of it */
    size_t fill;
} doubt_sha256;

void doubt_sha256_init(doubt_sha256 *h);
void doubt_sha256_update(doubt_sha256 *h, const void *data, size_t n);
/* Pads, writes the digest; h must be initialised again before reuse. */
void doubt_sha256_final(doubt_sha256 *h, uint8_t digest[32]);
/* 64 lowercase hex digits and a NUL into hex. */
void doubt_sha256_hex(const uint8_t digest[32], char hex[65]);
doubt_status doubt_sha256_file(const char *path, char hex[65], doubt_error *err);

#endif
