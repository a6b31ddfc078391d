/* doubt info FILE [--json]: what a weights file holds (network, parameter count, tensors,
 * metadata), whether its tensors match the network it names, and that network's graph. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "model/arch.h"
#include "model/netdesc.h"
#include "model/safetensors.h"

/* The size at which the graph's FLOPs are counted: the one bench/README.md quotes. */
#define FLOP_SIZE 256

static void usage(FILE *to)
{
    fprintf(to,
            "usage: doubt info FILE [--json]\n"
            "\n"
            "Describes a safetensors weights file: the network description stored in its\n"
            "__metadata__, the network's parameter count, every tensor (name, dtype, shape),\n"
            "the metadata, whether the tensors match the network, and the network's graph:\n"
            "its nodes (* marks those that depend on a dropout node; split, the convolutions\n"
            "whose deterministic input channels MC inference convolves once per image), its\n"
            "dropout sites, and the share of one pass's FLOPs at 256x256 that is deterministic.\n"
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

/* What `info` shows of a network's graph. */
typedef struct {
    doubt_graph graph;
    doubt_node_shape shapes[DOUBT_GRAPH_MAX_NODES];
    uint8_t stochastic[DOUBT_GRAPH_MAX_NODES], split[DOUBT_GRAPH_MAX_NODES];
    double flops, deterministic;
} graph_view;

static int view_graph(const doubt_netdesc *d, graph_view *v)
{
    if (doubt_arch_graph(d, &v->graph, v->shapes, NULL) != DOUBT_OK)
        return 0;
    doubt_graph_stochastic(&v->graph, v->stochastic);
    for (int i = 0; i < v->graph.n_nodes; i++) {
        int s, s_off, dn, d_off;
        v->split[i] = (uint8_t)doubt_graph_split(&v->graph, v->stochastic, v->shapes, i, &s,
                                                 &s_off, &dn, &d_off);
    }
    doubt_graph_flops(&v->graph, v->shapes, FLOP_SIZE, FLOP_SIZE, &v->flops, &v->deterministic);
    return 1;
}

static void print_graph_text(const graph_view *v)
{
    const doubt_graph *g = &v->graph;
    printf("graph       %d nodes, input sides a multiple of %d; %.2f GFLOP per pass at %dx%d, "
           "%.1f%% of it deterministic\n",
           g->n_nodes, g->grid, v->flops / 1e9, FLOP_SIZE, FLOP_SIZE,
           v->flops > 0 ? 100 * v->deterministic / v->flops : 0.0);
    printf("dropout    ");
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op == DOUBT_NODE_DROPOUT)
            printf(" %s (p %g)", g->nodes[i].name, g->nodes[i].p);
    printf("\n");
    for (int i = 0; i < g->n_nodes; i++) {
        const doubt_node *n = &g->nodes[i];
        char inputs[64] = "";
        for (int k = 0, at = 0; k < n->n_inputs; k++)
            at += snprintf(inputs + at, sizeof inputs - (size_t)at, "%s%d", k ? "," : "",
                           n->inputs[k]);
        printf("  %3d %c %-8s %-16s <- %-7s %4d ch at 1/%d%s\n", i, v->stochastic[i] ? '*' : ' ',
               doubt_node_op_name(n->op), n->name, inputs, v->shapes[i].channels,
               1 << v->shapes[i].scale_log2, v->split[i] ? "  split" : "");
    }
}

static cJSON *graph_json(const graph_view *v)
{
    const doubt_graph *g = &v->graph;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "grid", g->grid);
    cJSON_AddNumberToObject(o, "flop_size", FLOP_SIZE);
    cJSON_AddNumberToObject(o, "flops_per_pass", v->flops);
    cJSON_AddNumberToObject(o, "deterministic_flops", v->deterministic);
    cJSON *sites = cJSON_AddArrayToObject(o, "dropout_sites");
    cJSON *nodes = cJSON_AddArrayToObject(o, "nodes");
    for (int i = 0; i < g->n_nodes; i++) {
        const doubt_node *n = &g->nodes[i];
        if (n->op == DOUBT_NODE_DROPOUT)
            cJSON_AddItemToArray(sites, cJSON_CreateString(n->name));
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "op", doubt_node_op_name(n->op));
        cJSON_AddStringToObject(e, "name", n->name);
        cJSON *in = cJSON_AddArrayToObject(e, "inputs");
        for (int k = 0; k < n->n_inputs; k++)
            cJSON_AddItemToArray(in, cJSON_CreateNumber(n->inputs[k]));
        cJSON_AddNumberToObject(e, "channels", v->shapes[i].channels);
        cJSON_AddNumberToObject(e, "scale", 1 << v->shapes[i].scale_log2);
        cJSON_AddBoolToObject(e, "stochastic", v->stochastic[i]);
        cJSON_AddBoolToObject(e, "split", v->split[i]);
        cJSON_AddItemToArray(nodes, e);
    }
    return o;
}

static int print_text(const doubt_safetensors *f, const char *netjson, long long params,
                      long long elements, const char *check, const graph_view *graph)
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
    if (graph)
        print_graph_text(graph);
    return DOUBT_EXIT_OK;
}

static int print_json(const doubt_safetensors *f, const char *netjson, long long params,
                      long long elements, const char *check, const graph_view *graph)
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
    cJSON_AddItemToObject(o, "graph", graph ? graph_json(graph) : cJSON_CreateNull());
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
    graph_view *graph = f->has_network ? malloc(sizeof *graph) : NULL;
    if (graph && !view_graph(&f->network, graph)) {
        free(graph);
        graph = NULL;
    }
    int printed = json ? print_json(f, net, params, elements, check, graph)
                       : print_text(f, net, params, elements, check, graph);
    free(graph);
    if (status != DOUBT_EXIT_OK)
        fprintf(stderr, "doubt info: %s\n", err.msg);
    doubt_safetensors_destroy(f);
    return status != DOUBT_EXIT_OK ? status : printed;
}
