#include "summary.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "io/fsutil.h"

void doubt_summary_free(doubt_summary *t)
{
    for (int c = 0; c < t->ncols; c++)
        free(t->col[c]);
    for (int r = 0; r < t->rows; r++)
        free(t->name[r]);
    free(t->name);
    free(t->v);
}

static int column(doubt_summary *t, const char *key)
{
    for (int c = 0; c < t->ncols; c++)
        if (!strcmp(t->col[c], key))
            return c;
    if (t->ncols == DOUBT_SUMMARY_MAX_COLS)
        return -1;
    char *s = malloc(strlen(key) + 1);
    if (!s)
        return -1;
    strcpy(s, key);
    t->col[t->ncols] = s;
    return t->ncols++;
}

/* One summary line: the means of its maps, or its top-level numbers when it has no "maps". */
static doubt_status summary_row(doubt_summary *t, const cJSON *o, const char *where,
                                doubt_error *err)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
    if (!cJSON_IsString(name))
        return doubt_fail(err, DOUBT_ERR_FORMAT, "%s: no \"name\" string", where);
    char **nn = realloc(t->name, (size_t)(t->rows + 1) * sizeof *nn);
    if (nn)
        t->name = nn;
    double(*nv)[DOUBT_SUMMARY_MAX_COLS] =
        nn ? realloc(t->v, (size_t)(t->rows + 1) * sizeof *nv) : NULL;
    if (!nv)
        return doubt_fail(err, DOUBT_ERR_NOMEM, "out of memory at %s", where);
    t->v = nv;
    if (!(t->name[t->rows] = malloc(strlen(name->valuestring) + 1)))
        return doubt_fail(err, DOUBT_ERR_NOMEM, "out of memory at %s", where);
    strcpy(t->name[t->rows], name->valuestring);
    for (int c = 0; c < DOUBT_SUMMARY_MAX_COLS; c++)
        t->v[t->rows][c] = NAN;
    const cJSON *maps = cJSON_GetObjectItemCaseSensitive(o, "maps");
    for (const cJSON *m = cJSON_IsObject(maps) ? maps->child : o->child; m; m = m->next) {
        const cJSON *v = cJSON_IsObject(maps) ? cJSON_GetObjectItemCaseSensitive(m, "mean") : m;
        int c = cJSON_IsNumber(v) ? column(t, m->string) : -1;
        if (c >= 0)
            t->v[t->rows][c] = v->valuedouble;
    }
    t->rows++;
    return DOUBT_OK;
}

/* Reads the JSONL; a malformed line is reported and skipped (counted in *bad). */
doubt_status doubt_summary_read(const char *path, doubt_summary *t,
                                 void (*on_error)(void *, const char *), void *user, int *bad,
                                 doubt_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return doubt_fail(err, DOUBT_ERR_IO, "summary %s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    doubt_status st = DOUBT_OK;
    for (long no = 1; !st && (len = getline(&line, &cap, f)) >= 0; no++) {
        if (len <= 1 && (len == 0 || line[0] == '\n'))
            continue;
        char where[DOUBT_PATH_MAX + 32];
        snprintf(where, sizeof where, "summary %s line %ld", path, no);
        cJSON *o = cJSON_Parse(line);
        doubt_error e = {{0}};
        doubt_status rs = cJSON_IsObject(o)
                              ? summary_row(t, o, where, &e)
                              : doubt_fail(&e, DOUBT_ERR_FORMAT, "%s: not a JSON object", where);
        cJSON_Delete(o);
        if (rs == DOUBT_ERR_NOMEM)
            st = doubt_fail(err, rs, "%s", e.msg);
        else if (rs) {
            (*bad)++;
            if (on_error)
                on_error(user, e.msg);
        }
    }
    free(line);
    fclose(f);
    return st;
}

int doubt_summary_find(const doubt_summary *t, const char *name)
{
    for (int r = t->rows - 1; r >= 0; r--)
        if (!strcmp(t->name[r], name))
            return r;
    return -1;
}

int doubt_summary_column(const doubt_summary *t, const char *key)
{
    for (int c = 0; c < t->ncols; c++)
        if (!strcmp(t->col[c], key))
            return c;
    return -1;
}
