#include "netdesc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/arch.h"

/* The required keys, then the optional ones. */
static const char *const keys[] = {"arch",    "in_channels",      "classes", "widths",
                                   "dropout", "no_depth_classes", "depth",   "convs",
                                   "concrete_dropout"};
#define N_KEYS (sizeof keys / sizeof keys[0])
#define N_REQUIRED 5

static int is_segnet(const char *arch)
{
    return !strcmp(arch, "segnet");
}

static const char *const depth_names[] = {"metric", "log", "inverse"};
#define N_DEPTH_PARAMS (sizeof depth_names / sizeof depth_names[0])

const char *doubt_depth_param_name(doubt_depth_param p)
{
    return (unsigned)p < N_DEPTH_PARAMS ? depth_names[p] : NULL;
}

int doubt_depth_param_of(const char *name)
{
    for (size_t k = 0; k < N_DEPTH_PARAMS; k++)
        if (!strcmp(name, depth_names[k]))
            return (int)k;
    return -1;
}

doubt_status doubt_netdesc_check_image_input(const doubt_netdesc *d, doubt_error *err)
{
    if (d->in_channels != DOUBT_NETDESC_IMAGE_CHANNELS)
        return doubt_fail(err, DOUBT_ERR_ARG,
                          "network description: in_channels %d is not supported: images are "
                          "read as RGB, so the network must take %d channels",
                          d->in_channels, DOUBT_NETDESC_IMAGE_CHANNELS);
    return DOUBT_OK;
}

doubt_status doubt_netdesc_validate(const doubt_netdesc *d, doubt_error *err)
{
    if (!d)
        return doubt_fail(err, DOUBT_ERR_ARG, "network description: NULL");
    if (strcmp(d->arch, "unet") && !is_segnet(d->arch))
        return doubt_fail(err, DOUBT_ERR_ARG,
                          "network description: unknown arch '%.16s' (known: unet, segnet)",
                          d->arch);
    if (d->in_channels < 1 || d->in_channels > DOUBT_NETDESC_MAX_IN_CHANNELS)
        return doubt_fail(err, DOUBT_ERR_ARG,
                          "network description: in_channels %d is outside 1..%d",
                          d->in_channels, DOUBT_NETDESC_MAX_IN_CHANNELS);
    if (d->classes < 1 || d->classes > DOUBT_NETDESC_MAX_CLASSES)
        return doubt_fail(err, DOUBT_ERR_ARG,
                          "network description: classes %d is outside 1..%d (255 is the "
                          "ignore label)",
                          d->classes, DOUBT_NETDESC_MAX_CLASSES);
    if (d->levels < 1)
        return doubt_fail(err, DOUBT_ERR_ARG, "network description: widths is empty");
    if (d->levels > DOUBT_NETDESC_MAX_LEVELS)
        return doubt_fail(err, DOUBT_ERR_ARG,
                          "network description: %d widths, at most %d levels are supported",
                          d->levels, DOUBT_NETDESC_MAX_LEVELS);
    for (int i = 0; i < d->levels; i++)
        if (d->widths[i] < 1 || d->widths[i] > DOUBT_NETDESC_MAX_WIDTH)
            return doubt_fail(err, DOUBT_ERR_ARG,
                              "network description: widths[%d] = %d is outside 1..%d", i,
                              d->widths[i], DOUBT_NETDESC_MAX_WIDTH);
    for (int i = 0; i < d->levels; i++)
        if (is_segnet(d->arch) ? d->convs[i] < 1 || d->convs[i] > DOUBT_NETDESC_MAX_CONVS
                               : d->convs[i] != 0)
            return doubt_fail(err, DOUBT_ERR_ARG,
                              is_segnet(d->arch)
                                  ? "network description: convs[%d] = %d is outside 1..%d"
                                  : "network description: convs[%d] = %d: unet has no convs",
                              i, d->convs[i], DOUBT_NETDESC_MAX_CONVS);
    /* !(x >= 0) also catches NaN. */
    if (!(d->dropout >= 0) || d->dropout >= 1)
        return doubt_fail(err, DOUBT_ERR_ARG,
                          "network description: dropout %g is outside [0, 1)", d->dropout);
    const int sites = doubt_arch_dropout_sites(d);
    if (d->n_rates && d->n_rates != sites)
        return doubt_fail(err, DOUBT_ERR_ARG,
                          "network description: %d dropout rates for %d dropout sites",
                          d->n_rates, sites);
    double largest = 0;
    for (int i = 0; i < d->n_rates; i++) {
        if (!(d->rates[i] >= 0) || d->rates[i] >= 1 || (d->concrete && d->rates[i] == 0))
            return doubt_fail(err, DOUBT_ERR_ARG,
                              "network description: dropout[%d] = %g is outside %s", i,
                              d->rates[i], d->concrete ? "(0, 1)" : "[0, 1)");
        largest = d->rates[i] > largest ? d->rates[i] : largest;
    }
    if (d->n_rates && d->dropout != largest)
        return doubt_fail(err, DOUBT_ERR_ARG,
                          "network description: dropout %g is not the largest of its rates",
                          d->dropout);
    if (d->concrete && !d->n_rates)
        return doubt_fail(err, DOUBT_ERR_ARG,
                          "network description: concrete_dropout needs a list of learned rates");
    if (d->no_depth_count < 0 || d->no_depth_count > d->classes)
        return doubt_fail(err, DOUBT_ERR_ARG,
                          "network description: %d no_depth_classes for %d classes",
                          d->no_depth_count, d->classes);
    for (int i = 0; i < d->no_depth_count; i++) {
        const int c = d->no_depth_classes[i];
        if (c >= d->classes)
            return doubt_fail(err, DOUBT_ERR_ARG,
                              "network description: no_depth_classes[%d] = %d is not a class "
                              "(0..%d)",
                              i, c, d->classes - 1);
        if (i && c <= d->no_depth_classes[i - 1])
            return doubt_fail(err, DOUBT_ERR_ARG,
                              "network description: no_depth_classes must be strictly "
                              "increasing (entry %d is %d after %d)",
                              i, c, d->no_depth_classes[i - 1]);
    }
    if (!doubt_depth_param_name(d->depth))
        return doubt_fail(err, DOUBT_ERR_ARG, "network description: unknown depth kind %d",
                          (int)d->depth);
    return DOUBT_OK;
}

void doubt_netdesc_set_concrete(doubt_netdesc *d)
{
    if (!d->n_rates) {
        d->n_rates = doubt_arch_dropout_sites(d);
        for (int i = 0; i < d->n_rates; i++)
            d->rates[i] = d->dropout > 0 ? d->dropout : 0.1;
    }
    double largest = 0;
    for (int i = 0; i < d->n_rates; i++) {
        d->rates[i] = d->rates[i] > 0 ? d->rates[i] : 0.1;
        largest = d->rates[i] > largest ? d->rates[i] : largest;
    }
    d->dropout = largest;
    d->concrete = 1;
}

int doubt_netdesc_has_dropout(const doubt_netdesc *d)
{
    return d->dropout > 0; /* with a list of rates, the largest */
}

int doubt_netdesc_class_has_no_depth(const doubt_netdesc *d, int c)
{
    for (int i = 0; i < d->no_depth_count; i++)
        if (d->no_depth_classes[i] == c)
            return 1;
    return 0;
}

/* An integer-valued JSON number; cJSON keeps numbers as doubles. */
static doubt_status get_int(const cJSON *item, const char *what, int *out, doubt_error *err)
{
    if (!cJSON_IsNumber(item))
        return doubt_fail(err, DOUBT_ERR_ARG, "network description: %s must be a number",
                          what);
    double v = item->valuedouble;
    if (v != floor(v) || fabs(v) > 1e9)
        return doubt_fail(err, DOUBT_ERR_ARG,
                          "network description: %s = %g is not an integer in range", what, v);
    *out = (int)v;
    return DOUBT_OK;
}

static doubt_status from_json(const cJSON *root, doubt_netdesc *out, doubt_error *err)
{
    if (!cJSON_IsObject(root))
        return doubt_fail(err, DOUBT_ERR_ARG, "network description: not a JSON object");
    /* Unknown and repeated keys first: both usually mean a typo. */
    for (const cJSON *it = root->child; it; it = it->next) {
        size_t k = 0;
        while (k < N_KEYS && strcmp(it->string, keys[k]))
            k++;
        if (k == N_KEYS)
            return doubt_fail(err, DOUBT_ERR_ARG,
                              "network description: unknown key '%.64s' (known: arch, "
                              "in_channels, classes, widths, convs, dropout, no_depth_classes, "
                              "depth, concrete_dropout)",
                              it->string);
        for (const cJSON *o = it->next; o; o = o->next)
            if (!strcmp(o->string, it->string))
                return doubt_fail(err, DOUBT_ERR_ARG,
                                  "network description: key '%s' appears twice", it->string);
    }
    for (size_t k = 0; k < N_REQUIRED; k++)
        if (!cJSON_GetObjectItemCaseSensitive(root, keys[k]))
            return doubt_fail(err, DOUBT_ERR_ARG, "network description: missing key '%s'",
                              keys[k]);

    doubt_netdesc d;
    memset(&d, 0, sizeof d);
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(root, "arch");
    if (!cJSON_IsString(arch))
        return doubt_fail(err, DOUBT_ERR_ARG, "network description: arch must be a string");
    if (strlen(arch->valuestring) >= sizeof d.arch ||
        (strcmp(arch->valuestring, "unet") && !is_segnet(arch->valuestring)))
        return doubt_fail(err, DOUBT_ERR_ARG,
                          "network description: unknown arch '%.64s' (known: unet, segnet)",
                          arch->valuestring);
    strcpy(d.arch, arch->valuestring);

    doubt_status st;
    if ((st = get_int(cJSON_GetObjectItemCaseSensitive(root, "in_channels"), "in_channels",
                      &d.in_channels, err)))
        return st;
    if ((st = get_int(cJSON_GetObjectItemCaseSensitive(root, "classes"), "classes", &d.classes,
                      err)))
        return st;

    const cJSON *widths = cJSON_GetObjectItemCaseSensitive(root, "widths");
    if (!cJSON_IsArray(widths))
        return doubt_fail(err, DOUBT_ERR_ARG,
                          "network description: widths must be an array of integers");
    int n = cJSON_GetArraySize(widths);
    if (n > DOUBT_NETDESC_MAX_LEVELS)
        return doubt_fail(err, DOUBT_ERR_ARG,
                          "network description: %d widths, at most %d levels are supported", n,
                          DOUBT_NETDESC_MAX_LEVELS);
    d.levels = n;
    int i = 0;
    for (const cJSON *w = widths->child; w; w = w->next, i++) {
        char what[24];
        snprintf(what, sizeof what, "widths[%d]", i);
        if ((st = get_int(w, what, &d.widths[i], err)))
            return st;
    }

    const cJSON *convs = cJSON_GetObjectItemCaseSensitive(root, "convs");
    if (!convs != !is_segnet(d.arch))
        return doubt_fail(err, DOUBT_ERR_ARG,
                          is_segnet(d.arch) ? "network description: segnet needs convs"
                                            : "network description: convs is for segnet only");
    if (convs) {
        if (!cJSON_IsArray(convs) || cJSON_GetArraySize(convs) != d.levels)
            return doubt_fail(err, DOUBT_ERR_ARG,
                              "network description: convs must be an array of one integer per "
                              "width (%d)",
                              d.levels);
        i = 0;
        for (const cJSON *c = convs->child; c; c = c->next, i++) {
            char what[24];
            snprintf(what, sizeof what, "convs[%d]", i);
            if ((st = get_int(c, what, &d.convs[i], err)))
                return st;
        }
    }

    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(root, "dropout");
    if (cJSON_IsArray(dropout)) {
        if (cJSON_GetArraySize(dropout) > DOUBT_NETDESC_MAX_SITES)
            return doubt_fail(err, DOUBT_ERR_ARG,
                              "network description: %d dropout rates, at most %d sites",
                              cJSON_GetArraySize(dropout), DOUBT_NETDESC_MAX_SITES);
        for (const cJSON *r = dropout->child; r; r = r->next) {
            if (!cJSON_IsNumber(r))
                return doubt_fail(err, DOUBT_ERR_ARG,
                                  "network description: dropout rates must be numbers");
            d.rates[d.n_rates] = r->valuedouble;
            d.dropout = d.n_rates++ && d.dropout > r->valuedouble ? d.dropout : r->valuedouble;
        }
    } else if (cJSON_IsNumber(dropout))
        d.dropout = dropout->valuedouble;
    else
        return doubt_fail(err, DOUBT_ERR_ARG,
                          "network description: dropout must be a number or a list of them");
    const cJSON *concrete = cJSON_GetObjectItemCaseSensitive(root, "concrete_dropout");
    if (concrete && !cJSON_IsBool(concrete))
        return doubt_fail(err, DOUBT_ERR_ARG,
                          "network description: concrete_dropout must be true or false");
    d.concrete = cJSON_IsTrue(concrete);

    const cJSON *no_depth = cJSON_GetObjectItemCaseSensitive(root, "no_depth_classes");
    if (no_depth) {
        if (!cJSON_IsArray(no_depth))
            return doubt_fail(err, DOUBT_ERR_ARG,
                              "network description: no_depth_classes must be an array of class "
                              "ids");
        i = 0;
        for (const cJSON *c = no_depth->child; c; c = c->next, i++) {
            char what[32];
            int id = -1;
            snprintf(what, sizeof what, "no_depth_classes[%d]", i);
            if ((st = get_int(c, what, &id, err)))
                return st;
            if (i >= DOUBT_NETDESC_MAX_CLASSES || id < 0 || id > DOUBT_NETDESC_MAX_CLASSES)
                return doubt_fail(err, DOUBT_ERR_ARG,
                                  "network description: %s = %d is not a class id", what, id);
            d.no_depth_classes[i] = (uint8_t)id;
        }
        d.no_depth_count = i;
    }
    const cJSON *depth = cJSON_GetObjectItemCaseSensitive(root, "depth");
    if (depth) {
        const int kind = cJSON_IsString(depth) ? doubt_depth_param_of(depth->valuestring) : -1;
        if (kind < 0)
            return doubt_fail(err, DOUBT_ERR_ARG,
                              "network description: depth must be \"metric\", \"log\" or "
                              "\"inverse\"");
        d.depth = (doubt_depth_param)kind;
    }

    if ((st = doubt_netdesc_validate(&d, err)))
        return st;
    *out = d;
    return DOUBT_OK;
}

doubt_status doubt_netdesc_parse(const char *json, size_t len, doubt_netdesc *out,
                                 doubt_error *err)
{
    if (!json || !out)
        return doubt_fail(err, DOUBT_ERR_ARG, "network description: NULL argument");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) {
        size_t at = end ? (size_t)(end - json) : 0;
        return doubt_fail(err, DOUBT_ERR_ARG,
                          "network description: JSON not parseable near byte %zu", at);
    }
    /* Anything but whitespace after the object is a second value or garbage. */
    for (const char *p = end; p < json + len && *p; p++)
        if (!strchr(" \t\r\n", *p)) {
            cJSON_Delete(root);
            return doubt_fail(err, DOUBT_ERR_ARG,
                              "network description: unexpected text after the JSON object at "
                              "byte %zu",
                              (size_t)(p - json));
        }
    doubt_status st = from_json(root, out, err);
    cJSON_Delete(root);
    return st;
}

/* Five levels, widths doubling from w0 up to the last, which keeps the width of the level
 * above; segnet adds VGG-16's convolutions per level (2, 2, 3, 3, 3). */
static void set_preset(doubt_netdesc *d, const char *arch, int w0)
{
    memset(d, 0, sizeof *d);
    strcpy(d->arch, arch);
    d->in_channels = 3;
    d->classes = 8;
    d->levels = 5;
    for (int i = 0; i < 4; i++)
        d->widths[i] = w0 << i;
    d->widths[4] = d->widths[3];
    if (is_segnet(arch))
        for (int i = 0; i < 5; i++)
            d->convs[i] = i < 2 ? 2 : 3;
    d->dropout = 0.5;
}

static const struct {
    const char *name, *arch;
    int w0;
} presets[] = {{"unet", "unet", 32},
               {"unet-small", "unet", 16},
               {"segnet", "segnet", 64},
               {"segnet-small", "segnet", 16}};
#define N_PRESETS (sizeof presets / sizeof presets[0])

doubt_status doubt_netdesc_preset(const char *name, doubt_netdesc *out, doubt_error *err)
{
    if (!name || !out)
        return doubt_fail(err, DOUBT_ERR_ARG, "network preset: NULL argument");
    for (size_t k = 0; k < N_PRESETS; k++)
        if (!strcmp(name, presets[k].name)) {
            set_preset(out, presets[k].arch, presets[k].w0);
            return DOUBT_OK;
        }
    return doubt_fail(err, DOUBT_ERR_ARG,
                      "network preset '%.64s' unknown (known: unet, unet-small, segnet, "
                      "segnet-small)",
                      name);
}

doubt_status doubt_netdesc_load(const char *path, doubt_netdesc *out, doubt_error *err)
{
    if (!path || !out)
        return doubt_fail(err, DOUBT_ERR_ARG, "network description: NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f)
        return doubt_fail(err, DOUBT_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    /* A description is a few hundred bytes; 64 KiB leaves room for pretty-printed files. */
    enum { CAP = 1 << 16 };
    char *buf = malloc(CAP);
    if (!buf) {
        fclose(f);
        return doubt_fail(err, DOUBT_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t n = fread(buf, 1, CAP, f);
    int failed = ferror(f);
    fclose(f);
    doubt_status st = DOUBT_OK;
    if (failed)
        st = doubt_fail(err, DOUBT_ERR_IO, "%s: read error", path);
    else if (n == CAP)
        st = doubt_fail(err, DOUBT_ERR_FORMAT, "%s: larger than %d bytes, not a description",
                        path, CAP);
    else {
        doubt_error inner;
        if (doubt_netdesc_parse(buf, n, out, &inner))
            st = doubt_fail(err, DOUBT_ERR_FORMAT, "%s: %s", path, inner.msg);
    }
    free(buf);
    return st;
}

doubt_status doubt_netdesc_from_config(const char *config, doubt_netdesc *out,
                                       doubt_error *err)
{
    if (!config || !out)
        return doubt_fail(err, DOUBT_ERR_ARG, "network config: NULL argument");
    for (size_t k = 0; k < N_PRESETS; k++)
        if (!strcmp(config, presets[k].name))
            return doubt_netdesc_preset(config, out, err);
    if (config[strspn(config, " \t\r\n")] == '{')
        return doubt_netdesc_parse(config, strlen(config), out, err);
    return doubt_netdesc_load(config, out, err);
}

/* The shortest of %.15g / %.17g that reads back to the same double: 0.1 stays "0.1". */
static size_t shortest_number(char *buf, size_t cap, double v)
{
    int n = snprintf(buf, cap, "%.15g", v);
    if (strtod(buf, NULL) != v)
        n = snprintf(buf, cap, "%.17g", v);
    return n > 0 ? (size_t)n : 0;
}

doubt_status doubt_netdesc_to_json(const doubt_netdesc *d, char *buf, size_t cap,
                                   doubt_error *err)
{
    doubt_status st = doubt_netdesc_validate(d, err);
    if (st)
        return st;
    if (!buf)
        return doubt_fail(err, DOUBT_ERR_ARG, "network description: NULL buffer");
    char widths[DOUBT_NETDESC_MAX_LEVELS * 8 + 4];
    size_t at = 0;
    for (int i = 0; i < d->levels; i++)
        at += (size_t)snprintf(widths + at, sizeof widths - at, "%s%d", i ? "," : "",
                               d->widths[i]);
    char convs[DOUBT_NETDESC_MAX_LEVELS * 2 + 16] = "";
    if (is_segnet(d->arch)) {
        at = (size_t)snprintf(convs, sizeof convs, ",\"convs\":[");
        for (int i = 0; i < d->levels; i++)
            at += (size_t)snprintf(convs + at, sizeof convs - at, "%s%d", i ? "," : "",
                                   d->convs[i]);
        snprintf(convs + at, sizeof convs - at, "]");
    }
    char drop[DOUBT_NETDESC_MAX_SITES * 26 + 4];
    if (d->n_rates) {
        at = (size_t)snprintf(drop, sizeof drop, "[");
        for (int i = 0; i < d->n_rates; i++) {
            at += (size_t)snprintf(drop + at, sizeof drop - at, "%s", i ? "," : "");
            at += shortest_number(drop + at, sizeof drop - at, d->rates[i]);
        }
        snprintf(drop + at, sizeof drop - at, "]");
    } else
        shortest_number(drop, sizeof drop, d->dropout);
    char no_depth[DOUBT_NETDESC_MAX_CLASSES * 4 + 32] = "";
    if (d->no_depth_count) {
        at = (size_t)snprintf(no_depth, sizeof no_depth, ",\"no_depth_classes\":[");
        for (int i = 0; i < d->no_depth_count; i++)
            at += (size_t)snprintf(no_depth + at, sizeof no_depth - at, "%s%d", i ? "," : "",
                                   d->no_depth_classes[i]);
        snprintf(no_depth + at, sizeof no_depth - at, "]");
    }
    char depth[64] = "";
    if (d->depth != DOUBT_DEPTH_METRIC)
        snprintf(depth, sizeof depth, ",\"depth\":\"%s\"", doubt_depth_param_name(d->depth));
    if (d->concrete)
        snprintf(depth + strlen(depth), sizeof depth - strlen(depth), ",\"concrete_dropout\":true");
    int n = snprintf(buf, cap,
                     "{\"arch\":\"%s\",\"in_channels\":%d,\"classes\":%d,\"widths\":[%s]%s,"
                     "\"dropout\":%s%s%s}",
                     d->arch, d->in_channels, d->classes, widths, convs, drop, no_depth, depth);
    if (n < 0 || (size_t)n >= cap)
        return doubt_fail(err, DOUBT_ERR_ARG,
                          "network description: JSON needs %d bytes, buffer has %zu", n + 1, cap);
    return DOUBT_OK;
}

int doubt_netdesc_params(const doubt_netdesc *d, doubt_param_info *out, int cap)
{
    doubt_graph *g = malloc(sizeof *g); /* ~50 KiB */
    doubt_node_shape shapes[DOUBT_GRAPH_MAX_NODES];
    if (!g || doubt_arch_graph(d, g, shapes, NULL) != DOUBT_OK) {
        free(g);
        return 0;
    }
    int n = doubt_graph_params(g, shapes, out, cap);
    free(g);
    if (out && n < cap) {
        doubt_param_info *task = &out[n];
        memset(task, 0, sizeof *task);
        snprintf(task->name, sizeof task->name, "task.log_var");
        task->kind = DOUBT_PARAM_TRAINING;
        task->ndim = 1;
        task->shape[0] = task->count = 2;
    }
    return n + 1;
}

int64_t doubt_netdesc_param_count(const doubt_netdesc *d)
{
    doubt_param_info p[DOUBT_NETDESC_MAX_PARAMS];
    const int listed = doubt_netdesc_params(d, p, DOUBT_NETDESC_MAX_PARAMS);
    const int n = listed < DOUBT_NETDESC_MAX_PARAMS ? listed : DOUBT_NETDESC_MAX_PARAMS;
    int64_t total = 0;
    for (int k = 0; k < n; k++)
        if (p[k].kind == DOUBT_PARAM_LEARNED)
            total += p[k].count;
    return total;
}
