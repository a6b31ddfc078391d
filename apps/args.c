/* Option values and usage errors shared by the doubt subcommands (args.h). */
#include "args.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "model/converge.h"
#include "model/mc.h"

int doubt_arg_int64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    if (!s)
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    /* errno: beyond long long, which strtoll clamps to a bound that could pass the range */
    if (errno || end == s || *end || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

int doubt_arg_int(const char *s, int lo, int hi, int *out)
{
    int64_t v;
    if (!doubt_arg_int64(s, lo, hi, &v))
        return 0;
    *out = (int)v;
    return 1;
}

int doubt_arg_float(const char *s, float lo, float hi, float *out)
{
    if (!s)
        return 0;
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    /* written so that NaN, which compares false, is refused */
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return 0;
    *out = v;
    return 1;
}

int doubt_arg_samples(const char *s, int *samples, int *adaptive)
{
    if (s && !strcmp(s, "auto")) {
        *samples = DOUBT_MC_DEFAULT_AUTO_SAMPLES;
        *adaptive = 1;
        return 1;
    }
    if (s && !strncmp(s, "auto:", 5)) {
        if (!doubt_arg_int(s + 5, DOUBT_CONVERGE_MIN_SAMPLES, 100000, samples))
            return 0;
        *adaptive = 1;
        return 1;
    }
    if (!doubt_arg_int(s, 1, 100000, samples))
        return 0;
    *adaptive = 0;
    return 1;
}

int doubt_arg_double(const char *s, double lo, double hi, double *out)
{
    if (!s)
        return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return 0;
    *out = v;
    return 1;
}

int doubt_arg_split(const char *s, doubt_arg_list *out)
{
    if (!s)
        return 0;
    int count = 1;
    for (const char *c = s; *c; c++)
        count += *c == ',';
    char *text = strdup(s);
    const char **items = malloc((size_t)count * sizeof *items);
    int ok = text && items;
    char *next = text;
    for (int i = 0; i < count && ok; i++) {
        items[i] = next;
        next += strcspn(next, ",");
        ok = next > items[i];
        *next++ = '\0';
    }
    if (!ok) {
        free(text);
        free(items);
        return 0;
    }
    *out = (doubt_arg_list){text, items, count};
    return 1;
}

void doubt_arg_list_free(doubt_arg_list *l)
{
    free(l->text);
    free(l->items);
}

int doubt_usage_errorf(const char *command, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "doubt %s: ", command);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n'doubt %s --help' for usage\n", command);
    va_end(ap);
    return DOUBT_EXIT_USAGE;
}

int doubt_usage_error(const char *command, const char *what, const char *value)
{
    return doubt_usage_errorf(command, "%s%s%s", what, value ? ": " : "", value ? value : "");
}

int doubt_arg_precision(const char *command, const char *name, doubt_precision *out)
{
    if (!doubt_precision_parse(name, out))
        return doubt_usage_error(command, "--precision wants f32, bf16 or int8", name);
    char why[256];
    if (!doubt_precision_check(*out, why, sizeof why)) {
        fprintf(stderr, "doubt %s: --%s\n", command, why); /* why starts "precision NAME" */
        return DOUBT_EXIT_FAILURE;
    }
    return 0;
}
