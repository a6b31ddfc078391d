/* Option values and usage errors shared by the doubt subcommands, so that every command
 * accepts numbers by one rule and words its usage errors alike. */
#ifndef DOUBT_APPS_ARGS_H
#define DOUBT_APPS_ARGS_H

#include <stdint.h>

#include "core/isa.h"

/* The whole string s as a base-10 integer in [lo, hi]: 1 with *out set, else 0 with *out
 * untouched. Refused: NULL (an option given last, without its value), an empty string,
 * trailing characters ("12x", "1.5"), values beyond int64_t. Leading spaces and a sign are
 * accepted, as strtoll reads them. */
int doubt_arg_int64(const char *s, int64_t lo, int64_t hi, int64_t *out);

/* doubt_arg_int64 for the many options stored in an int: the bounds being ints, no accepted
 * value can be truncated by the store. */
int doubt_arg_int(const char *s, int lo, int hi, int *out);

/* The whole string s as a float in [lo, hi] (strtof's syntax: "1e-3", "0x1p-4", ...): 1 with
 * *out set, else 0 with *out untouched. Refused: NULL, trailing characters, NaN, values strtof
 * reports out of range (beyond FLT_MAX, or so small they lose precision). Parsed as a float,
 * not a double, so the value checked against the range is the one the command stores. */
int doubt_arg_float(const char *s, float lo, float hi, float *out);

/* The same as a double, with strtod's syntax. */
int doubt_arg_double(const char *s, double lo, double hi, double *out);

/* --samples: "T" (a fixed count, 1..100000), "auto" (adaptive sampling, model/mc.h, capped
 * at DOUBT_MC_DEFAULT_AUTO_SAMPLES) or "auto:MAX" (capped at MAX, DOUBT_CONVERGE_MIN_SAMPLES
 * .. 100000: a smaller cap could never stop early): 1 with *samples (T or the cap) and
 * *adaptive set, else 0 with both untouched. DOUBT_ARG_SAMPLES_FORMS words the forms for a
 * usage error. */
int doubt_arg_samples(const char *s, int *samples, int *adaptive);
#define DOUBT_ARG_SAMPLES_FORMS "T (1..100000), auto or auto:MAX (MAX 12..100000)"

/* A comma-separated list ("a,b,c"), split in place of a copy: items[0..count) point into
 * text. */
typedef struct {
    char *text;
    const char **items;
    int count;
} doubt_arg_list;
/* 1 with *out filled (free with doubt_arg_list_free), else 0 (nothing to free): NULL, an
 * empty item ("a,,b", "a,") or out of memory. */
int doubt_arg_split(const char *s, doubt_arg_list *out);
void doubt_arg_list_free(doubt_arg_list *l);
/* Prints "doubt COMMAND: WHAT: VALUE" (": VALUE" only when value is not NULL) and a line
 * pointing to 'doubt COMMAND --help' on stderr; returns DOUBT_EXIT_USAGE, so that a caller
 * can `return doubt_usage_error(...)`. */
int doubt_usage_error(const char *command, const char *what, const char *value);

/* The value of --precision for a command that runs a network: 0 with *out set. Otherwise
 * prints why on stderr and returns the exit status: DOUBT_EXIT_USAGE for a name other than
 * f32, bf16, int8; DOUBT_EXIT_FAILURE for one doubt cannot run here, with
 * doubt_precision_check's reason ("doubt predict: --precision bf16 needs AVX-512 BF16 or
 * AMX; this CPU has avx2 (oneDNN: avx2)"). */
int doubt_arg_precision(const char *command, const char *name, doubt_precision *out);

/* The same with a printf message, for commands that quote the value inside the text. */
int doubt_usage_errorf(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
