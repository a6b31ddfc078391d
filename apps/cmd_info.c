/* doubt info FILE [--json]: what a weights file holds (network, parameter count, tensors,
 * metadata) and whether its tensors match the network it names. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "model/netdesc.h"
#include "model/safetensors.h"

static void usage(FILE *to)
{
    fprintf(to,
            "usage: doubt info FILE [--json]\n"
            "\n"
            "Describes a safetensors weights file: the network description stored in its\n"
            "__metadata__, the network's parameter count, every tensor (name, dtype, shape),\n"
            "the metadata, and whether the tensors match the network.\n"
            "\n"
            "  --json     one JSON object on stdout instead of text\n"
            "  --help     this text\n"
            "  --version  the tool version\n"
            "\n"
            "exit status: 0 ok, 1 the file is unreadable, malformed or does not match its\n"
            "network, 2 bad usage\n");
}

static void shape_text(char *buf, size_t cap, const doubt_st_tensor *t)
{
    size_t at = (size_t)snprintf(buf, cap, "[");
    for (int k = 0; k < t->ndim && at < cap; k++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%lld", k ? "," : "", (long long)t->shape[k]);
    if (at < cap)
        snprintf(buf + at, cap - at, "]");
}

static int print_text(const doubt_safetensors *f, const char *netjson, long long params,
                      long long elements, const char *check)
{
    printf("file        %s\n", f->path);
    printf("network     %s\n", netjson ? netjson : "(none in __metadata__)");
    if (params >= 0)
        printf("parameters  %lld\n", params);
    printf("tensors     %d holding %lld values\n", f->n_tensors, elements);
    printf("check       %s\n", check);
    size_t width = 4;
    for (int i = 0; i < f->n_tensors; i++)
        if (strlen(f->tensors[i].name) > width)
            width = strlen(f->tensors[i].name);
    char shape[160];
    for (int i = 0; i < f->n_tensors; i++) {
        shape_text(shape, sizeof shape, &f->tensors[i]);
        printf("  %-*s  %-4s  %s\n", (int)width, f->tensors[i].name,
               doubt_dtype_name(f->tensors[i].dtype), shape);
    }
    printf("metadata    %d entr%s\n", f->n_meta, f->n_meta == 1 ? "y" : "ies");
    for (int i = 0; i < f->n_meta; i++)
        printf("  %s: %s\n", f->meta_keys[i], f->meta_values[i]);
    return DOUBT_EXIT_OK;
}

static int print_json(const doubt_safetensors *f, const char *netjson, long long params,
                      long long elements, const char *check)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "file", f->path);
    cJSON_AddItemToObject(o, "network", netjson ? cJSON_Parse(netjson) : cJSON_CreateNull());
    if (params >= 0)
        cJSON_AddNumberToObject(o, "parameters", (double)params);
    else
        cJSON_AddNullToObject(o, "parameters");
    cJSON_AddNumberToObject(o, "values", (double)elements);
    cJSON_AddStringToObject(o, "check", check);
    cJSON *tensors = cJSON_AddArrayToObject(o, "tensors");
    for (int i = 0; i < f->n_tensors; i++) {
        const doubt_st_tensor *t = &f->tensors[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", t->name);
        cJSON_AddStringToObject(e, "dtype", doubt_dtype_name(t->dtype));
        cJSON *shape = cJSON_AddArrayToObject(e, "shape");
        for (int k = 0; k < t->ndim; k++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[k]));
        cJSON_AddItemToArray(tensors, e);
    }
    cJSON *meta = cJSON_AddObjectToObject(o, "metadata");
    for (int i = 0; i < f->n_meta; i++)
        cJSON_AddStringToObject(meta, f->meta_keys[i], f->meta_values[i]);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text) {
        fprintf(stderr, "doubt info: out of memory\n");
        return DOUBT_EXIT_FAILURE;
    }
    printf("%s\n", text);
    cJSON_free(text);
    return DOUBT_EXIT_OK;
}

int doubt_cmd_info(int argc, char **argv)
{
    const char *path = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return DOUBT_EXIT_OK;
        }
        if (!strcmp(argv[i], "--version")) {
            printf("doubt %s\n", DOUBT_VERSION);
            return DOUBT_EXIT_OK;
        }
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "doubt info: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return DOUBT_EXIT_USAGE;
        } else if (path) {
            fprintf(stderr, "doubt info: one FILE only ('%s' and '%s')\n", path, argv[i]);
            return DOUBT_EXIT_USAGE;
        } else
            path = argv[i];
    }
    if (!path) {
        fprintf(stderr, "doubt info: no FILE given\n");
        usage(stderr);
        return DOUBT_EXIT_USAGE;
    }

    doubt_safetensors *f = NULL;
    doubt_error err = {{0}};
    if (doubt_safetensors_read(path, &f, &err)) {
        fprintf(stderr, "doubt info: %s\n", err.msg);
        return DOUBT_EXIT_FAILURE;
    }
    char netjson[DOUBT_NETDESC_JSON_MAX];
    long long params = -1;
    if (f->has_network) {
        doubt_netdesc_to_json(&f->network, netjson, sizeof netjson, NULL);
        params = (long long)doubt_netdesc_param_count(&f->network);
    }
    long long elements = 0;
    for (int i = 0; i < f->n_tensors; i++)
        elements += f->tensors[i].count;
    /* Inference weights need not carry the training-only task weights. */
    int status = DOUBT_EXIT_OK;
    const char *check = "ok";
    if (!f->has_network)
        check = "not checked: no network description";
    else if (doubt_safetensors_check(f, NULL, false, &err)) {
        check = err.msg;
        status = DOUBT_EXIT_FAILURE;
    }
    const char *net = f->has_network ? netjson : NULL;
    int printed = json ? print_json(f, net, params, elements, check)
                       : print_text(f, net, params, elements, check);
    if (status != DOUBT_EXIT_OK)
        fprintf(stderr, "doubt info: %s\n", err.msg);
    doubt_safetensors_destroy(f);
    return status != DOUBT_EXIT_OK ? status : printed;
}
