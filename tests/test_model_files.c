/* Network descriptions and safetensors weights files. The references are independent of the
 * code under test: PyTorch's own state_dict names/shapes and files written by
 * tools/write_safetensors_torch.py (tests/golden/model), hand-computed half/bfloat16 bit
 * patterns, and corrupt files built here byte by byte. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "io/npy.h"
#include "model/netdesc.h"
#include "model/safetensors.h"

#define GOLDEN "tests/golden/model/"
#define UNET_JSON                                                                          \
    "{\"arch\":\"unet\",\"in_channels\":3,\"classes\":8,\"widths\":[32,64,128,256,256],"        \
    "\"dropout\":0.5}"
#define TINY_JSON \
    "{\"arch\":\"unet\",\"in_channels\":3,\"classes\":3,\"widths\":[4,8],\"dropout\":0.5}"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

static void spit(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

static cJSON *load_json(const char *path)
{
    char *text = slurp(path, NULL);
    cJSON *j = cJSON_Parse(text);
    free(text);
    ck_assert_msg(j != NULL, "%s does not parse", path);
    return j;
}

static char tmpdir[64];

static void make_tmpdir(void)
{
    th_make_temp_dir("doubt_model_files", tmpdir, sizeof tmpdir);
}

static int count_temporaries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strstr(e->d_name, ".tmp") != NULL;
    closedir(d);
    return n;
}

/* ---- network description ---------------------------------------------------------- */

START_TEST(netdesc_round_trip)
{
    doubt_netdesc d, p;
    doubt_error err = {{0}};
    char buf[DOUBT_NETDESC_JSON_MAX];
    ck_assert_int_eq(doubt_netdesc_parse(UNET_JSON, strlen(UNET_JSON), &d, &err), DOUBT_OK);
    ck_assert_int_eq(d.levels, 5);
    ck_assert_int_eq(d.widths[4], 256);
    ck_assert_int_eq(doubt_netdesc_to_json(&d, buf, sizeof buf, &err), DOUBT_OK);
    ck_assert_str_eq(buf, UNET_JSON);

    ck_assert_int_eq(doubt_netdesc_preset("unet", &p, &err), DOUBT_OK);
    ck_assert_int_eq(doubt_netdesc_to_json(&p, buf, sizeof buf, &err), DOUBT_OK);
    ck_assert_str_eq(buf, UNET_JSON);
    ck_assert_int_eq(doubt_netdesc_preset("unet-small", &p, &err), DOUBT_OK);
    ck_assert_int_eq(doubt_netdesc_to_json(&p, buf, sizeof buf, &err), DOUBT_OK);
    ck_assert_str_eq(buf, "{\"arch\":\"unet\",\"in_channels\":3,\"classes\":8,"
                          "\"widths\":[16,32,64,128,128],\"dropout\":0.5}");

    /* any key order and spacing in, the canonical form out; 0.1 stays short */
    const char *loose = " {\n \"dropout\": 0.1, \"widths\": [ 8 ], \"classes\": 254,\n"
                        " \"in_channels\": 1, \"arch\": \"unet\" } \n";
    ck_assert_int_eq(doubt_netdesc_parse(loose, strlen(loose), &d, &err), DOUBT_OK);
    ck_assert_int_eq(doubt_netdesc_to_json(&d, buf, sizeof buf, &err), DOUBT_OK);
    ck_assert_str_eq(buf, "{\"arch\":\"unet\",\"in_channels\":1,\"classes\":254,\"widths\":[8],"
                          "\"dropout\":0.1}");
    /* an awkward dropout survives the round trip exactly */
    d.dropout = 1.0 / 3.0;
    ck_assert_int_eq(doubt_netdesc_to_json(&d, buf, sizeof buf, &err), DOUBT_OK);
    ck_assert_int_eq(doubt_netdesc_parse(buf, strlen(buf), &p, &err), DOUBT_OK);
    ck_assert(p.dropout == 1.0 / 3.0);
    /* the longest description fits the documented buffer */
    d.levels = 8;
    d.dropout = 0.123456789012345678;
    for (int i = 0; i < 8; i++)
        d.widths[i] = DOUBT_NETDESC_MAX_WIDTH;
    ck_assert_int_eq(doubt_netdesc_to_json(&d, buf, sizeof buf, &err), DOUBT_OK);
    ck_assert_int_eq(doubt_netdesc_to_json(&d, buf, 20, &err), DOUBT_ERR_ARG);
    /* ... also with every one of 254 classes listed as having no depth */
    d.classes = DOUBT_NETDESC_MAX_CLASSES;
    d.no_depth_count = DOUBT_NETDESC_MAX_CLASSES;
    for (int c = 0; c < DOUBT_NETDESC_MAX_CLASSES; c++)
        d.no_depth_classes[c] = (uint8_t)c;
    ck_assert_int_eq(doubt_netdesc_to_json(&d, buf, sizeof buf, &err), DOUBT_OK);
    ck_assert_int_eq(doubt_netdesc_parse(buf, strlen(buf), &p, &err), DOUBT_OK);
    ck_assert_int_eq(p.no_depth_count, DOUBT_NETDESC_MAX_CLASSES);
    /* ... and as a segnet with its convs, six learned rates of 17 digits and the depth kind */
    strcpy(d.arch, "segnet");
    for (int i = 0; i < 8; i++)
        d.convs[i] = DOUBT_NETDESC_MAX_CONVS;
    d.depth = DOUBT_DEPTH_INVERSE;
    d.n_rates = 6;
    for (int i = 0; i < 6; i++)
        d.rates[i] = 0.123456789012345678 - i * 1e-17;
    d.dropout = d.rates[0];
    d.concrete = 1;
    ck_assert_int_eq(doubt_netdesc_to_json(&d, buf, sizeof buf, &err), DOUBT_OK);
    ck_assert_int_eq(doubt_netdesc_parse(buf, strlen(buf), &p, &err), DOUBT_OK);
    ck_assert_mem_eq(&d, &p, sizeof d);
}
END_TEST

/* dropout as one rate per site: canonical as a list, the largest as "dropout"; the count must
 * be the architecture's; concrete_dropout needs such a list of rates in (0, 1). */
START_TEST(netdesc_dropout_rates)
{
    doubt_netdesc d;
    doubt_error err;
    char buf[DOUBT_NETDESC_JSON_MAX];
    const char *ok = "{\"arch\":\"unet\",\"in_channels\":3,\"classes\":8,\"widths\":[4,8,8,8],"
                     "\"dropout\":[0.1,0.2,0.3,0.25,0.05,0],\"concrete_dropout\":false}";
    ck_assert_msg(doubt_netdesc_parse(ok, strlen(ok), &d, &err) == DOUBT_OK, "%s", err.msg);
    ck_assert_int_eq(d.n_rates, 6);
    ck_assert(d.dropout == 0.3 && d.rates[4] == 0.05 && !d.concrete);
    ck_assert_int_eq(doubt_netdesc_to_json(&d, buf, sizeof buf, &err), DOUBT_OK);
    ck_assert_str_eq(buf, "{\"arch\":\"unet\",\"in_channels\":3,\"classes\":8,"
                          "\"widths\":[4,8,8,8],\"dropout\":[0.1,0.2,0.3,0.25,0.05,0]}");
    doubt_netdesc_set_concrete(&d);
    ck_assert(d.concrete && d.rates[5] == 0.1);
    ck_assert_int_eq(doubt_netdesc_to_json(&d, buf, sizeof buf, &err), DOUBT_OK);
    ck_assert_ptr_nonnull(strstr(buf, "\"dropout\":[0.1,0.2,0.3,0.25,0.05,0.1],"
                                      "\"concrete_dropout\":true}"));
    const struct {
        const char *json, *message;
    } bad[] = {
        {"{\"arch\":\"unet\",\"in_channels\":3,\"classes\":8,\"widths\":[4,8,8,8],"
         "\"dropout\":[0.1,0.2]}",
         "2 dropout rates for 6 dropout sites"},
        {"{\"arch\":\"unet\",\"in_channels\":3,\"classes\":8,\"widths\":[4,8],"
         "\"dropout\":[0.1,0.2,-0.5]}",
         "dropout[2] = -0.5 is outside [0, 1)"},
        {"{\"arch\":\"unet\",\"in_channels\":3,\"classes\":8,\"widths\":[4,8],"
         "\"dropout\":[0.1,0,0.2],\"concrete_dropout\":true}",
         "dropout[1] = 0 is outside (0, 1)"},
        {"{\"arch\":\"unet\",\"in_channels\":3,\"classes\":8,\"widths\":[4,8],"
         "\"dropout\":0.5,\"concrete_dropout\":true}",
         "concrete_dropout needs a list of learned rates"},
        {"{\"arch\":\"unet\",\"in_channels\":3,\"classes\":8,\"widths\":[4,8],"
         "\"dropout\":[0.1,\"x\",0.2]}",
         "dropout rates must be numbers"},
        {"{\"arch\":\"segnet\",\"in_channels\":3,\"classes\":8,\"widths\":[4,8],"
         "\"dropout\":0.5}",
         "segnet needs convs"},
        {"{\"arch\":\"unet\",\"in_channels\":3,\"classes\":8,\"widths\":[4,8],"
         "\"convs\":[1,1],\"dropout\":0.5}",
         "convs is for segnet only"},
        {"{\"arch\":\"segnet\",\"in_channels\":3,\"classes\":8,\"widths\":[4,8],"
         "\"convs\":[1,5],\"dropout\":0.5}",
         "convs[1] = 5 is outside 1..4"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(doubt_netdesc_parse(bad[i].json, strlen(bad[i].json), &d, &err),
                         DOUBT_ERR_ARG);
        ck_assert_msg(strstr(err.msg, bad[i].message), "%s: got '%s'", bad[i].message, err.msg);
    }
}
END_TEST

/* no_depth_classes: optional, canonical after dropout, left out when empty (so descriptions
 * written before it existed keep their bytes), and queried by class. */
START_TEST(netdesc_no_depth_classes)
{
    doubt_netdesc d;
    doubt_error err = {{0}};
    char buf[DOUBT_NETDESC_JSON_MAX];
    const char *with = "{\"no_depth_classes\":[0, 6],\"arch\":\"unet\",\"in_channels\":3,"
                       "\"classes\":8,\"widths\":[4,8],\"dropout\":0.5}";
    ck_assert_int_eq(doubt_netdesc_parse(with, strlen(with), &d, &err), DOUBT_OK);
    ck_assert_int_eq(d.no_depth_count, 2);
    ck_assert(doubt_netdesc_class_has_no_depth(&d, 0) && doubt_netdesc_class_has_no_depth(&d, 6));
    ck_assert(!doubt_netdesc_class_has_no_depth(&d, 1) && !doubt_netdesc_class_has_no_depth(&d, 7));
    ck_assert_int_eq(doubt_netdesc_to_json(&d, buf, sizeof buf, &err), DOUBT_OK);
    ck_assert_str_eq(buf, "{\"arch\":\"unet\",\"in_channels\":3,\"classes\":8,\"widths\":[4,8],"
                          "\"dropout\":0.5,\"no_depth_classes\":[0,6]}");
    const char *empty = "{\"arch\":\"unet\",\"in_channels\":3,\"classes\":8,\"widths\":[4],"
                        "\"dropout\":0.5,\"no_depth_classes\":[]}";
    ck_assert_int_eq(doubt_netdesc_parse(empty, strlen(empty), &d, &err), DOUBT_OK);
    ck_assert_int_eq(d.no_depth_count, 0);
    ck_assert_int_eq(doubt_netdesc_to_json(&d, buf, sizeof buf, &err), DOUBT_OK);
    ck_assert_ptr_null(strstr(buf, "no_depth"));
    static const struct {
        const char *list, *says;
    } bad[] = {
        {"[8]", "no_depth_classes[0] = 8 is not a class (0..7)"},
        {"[3,1]", "strictly increasing (entry 1 is 1 after 3)"},
        {"[2,2]", "strictly increasing"},
        {"[-1]", "no_depth_classes[0] = -1 is not a class id"},
        {"[0.5]", "no_depth_classes[0] = 0.5 is not an integer"},
        {"0", "no_depth_classes must be an array"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[256];
        snprintf(json, sizeof json,
                 "{\"arch\":\"unet\",\"in_channels\":3,\"classes\":8,\"widths\":[4],"
                 "\"dropout\":0.5,\"no_depth_classes\":%s}",
                 bad[i].list);
        ck_assert_int_eq(doubt_netdesc_parse(json, strlen(json), &d, &err), DOUBT_ERR_ARG);
        ck_assert_msg(strstr(err.msg, bad[i].says), "%s: message '%s' lacks '%s'", bad[i].list,
                      err.msg, bad[i].says);
    }
}
END_TEST

static const struct {
    const char *json;
    const char *says;
} bad_desc[] = {
    {"{\"arch\":\"resnet\",\"in_channels\":3,\"classes\":8,\"widths\":[4],\"dropout\":0.5}",
     "unknown arch 'resnet'"},
    {"{\"arch\":7,\"in_channels\":3,\"classes\":8,\"widths\":[4],\"dropout\":0.5}",
     "arch must be a string"},
    {"{\"in_channels\":3,\"classes\":8,\"widths\":[4],\"dropout\":0.5}", "missing key 'arch'"},
    {"{\"arch\":\"unet\",\"classes\":8,\"widths\":[4],\"dropout\":0.5}",
     "missing key 'in_channels'"},
    {"{\"arch\":\"unet\",\"in_channels\":3,\"widths\":[4],\"dropout\":0.5}",
     "missing key 'classes'"},
    {"{\"arch\":\"unet\",\"in_channels\":3,\"classes\":8,\"dropout\":0.5}",
     "missing key 'widths'"},
    {"{\"arch\":\"unet\",\"in_channels\":3,\"classes\":8,\"widths\":[4]}",
     "missing key 'dropout'"},
    {"{\"arch\":\"unet\",\"in_channels\":3,\"classes\":8,\"widths\":[4,0],\"dropout\":0.5}",
     "widths[1] = 0 is outside"},
    {"{\"arch\":\"unet\",\"in_channels\":3,\"classes\":8,\"widths\":[-4],\"dropout\":0.5}",
     "widths[0] = -4 is outside"},
    {"{\"arch\":\"unet\",\"in_channels\":3,\"classes\":8,\"widths\":[4,\"8\"],\"dropout\":0.5}",
     "widths[1] must be a number"},
    {"{\"arch\":\"unet\",\"in_channels\":3,\"classes\":8,\"widths\":[4,8.5],\"dropout\":0.5}",
     "widths[1] = 8.5 is not an integer"},
    {"{\"arch\":\"unet\",\"in_channels\":3,\"classes\":8,\"widths\":[],\"dropout\":0.5}",
     "widths is empty"},
    {"{\"arch\":\"unet\",\"in_channels\":3,\"classes\":8,\"widths\":4,\"dropout\":0.5}",
     "widths must be an array"},
    {"{\"arch\":\"unet\",\"in_channels\":3,\"classes\":8,\"widths\":[1,2,3,4,5,6,7,8,9],"
     "\"dropout\":0.5}",
     "9 widths, at most 8 levels"},
    {"{\"arch\":\"unet\",\"in_channels\":3,\"classes\":0,\"widths\":[4],\"dropout\":0.5}",
     "classes 0 is outside 1..254"},
    {"{\"arch\":\"unet\",\"in_channels\":3,\"classes\":255,\"widths\":[4],\"dropout\":0.5}",
     "classes 255 is outside 1..254"},
    {"{\"arch\":\"unet\",\"in_channels\":0,\"classes\":8,\"widths\":[4],\"dropout\":0.5}",
     "in_channels 0 is outside"},
    {"{\"arch\":\"unet\",\"in_channels\":3,\"classes\":8,\"widths\":[4],\"dropout\":1}",
     "dropout 1 is outside [0, 1)"},
    {"{\"arch\":\"unet\",\"in_channels\":3,\"classes\":8,\"widths\":[4],\"dropout\":-0.1}",
     "dropout -0.1 is outside [0, 1)"},
    {"{\"arch\":\"unet\",\"in_channels\":3,\"classes\":8,\"widths\":[4],\"dropout\":\"0.5\"}",
     "dropout must be a number"},
    {"{\"arch\":\"unet\",\"in_channels\":3,\"classes\":8,\"width\":[4],\"dropout\":0.5}",
     "unknown key 'width'"},
    {"{\"arch\":\"unet\",\"in_channels\":3,\"classes\":8,\"classes\":8,\"widths\":[4],"
     "\"dropout\":0.5}",
     "key 'classes' appears twice"},
    {"[1,2]", "not a JSON object"},
    {"{\"arch\":\"unet\",", "JSON not parseable"},
    {"{\"arch\":\"unet\",\"in_channels\":3,\"classes\":8,\"widths\":[4],\"dropout\":0.5} {}",
     "unexpected text after the JSON object"},
};

START_TEST(netdesc_rejects)
{
    doubt_netdesc d;
    doubt_error err = {{0}};
    const char *json = bad_desc[_i].json;
    ck_assert_int_eq(doubt_netdesc_parse(json, strlen(json), &d, &err), DOUBT_ERR_ARG);
    ck_assert_msg(strstr(err.msg, bad_desc[_i].says), "%s: got '%s', want '%s'", json, err.msg,
                  bad_desc[_i].says);
}
END_TEST

START_TEST(netdesc_presets_and_files)
{
    doubt_netdesc d, p;
    doubt_error err = {{0}};
    ck_assert_int_eq(doubt_netdesc_preset("unet-large", &d, &err), DOUBT_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "unet-large"));

    make_tmpdir();
    char path[128];
    snprintf(path, sizeof path, "%s/net.json", tmpdir);
    spit(path, TINY_JSON "\n", strlen(TINY_JSON) + 1);
    ck_assert_int_eq(doubt_netdesc_load(path, &d, &err), DOUBT_OK);
    ck_assert_int_eq(doubt_netdesc_from_config(TINY_JSON, &p, &err), DOUBT_OK);
    ck_assert_mem_eq(&d, &p, sizeof d);
    ck_assert_int_eq(doubt_netdesc_from_config(path, &p, &err), DOUBT_OK);
    ck_assert_mem_eq(&d, &p, sizeof d);
    ck_assert_int_eq(doubt_netdesc_from_config("unet-small", &p, &err), DOUBT_OK);
    ck_assert_int_eq(p.widths[0], 16);

    const char *bad = "{\"arch\":\"unet\",\"in_channels\":3,\"classes\":8,\"widths\":[4]}";
    spit(path, bad, strlen(bad));
    ck_assert_int_eq(doubt_netdesc_from_config(path, &d, &err), DOUBT_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    ck_assert_ptr_nonnull(strstr(err.msg, "missing key 'dropout'"));
    snprintf(path, sizeof path, "%s/absent.json", tmpdir);
    ck_assert_int_eq(doubt_netdesc_load(path, &d, &err), DOUBT_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    th_remove_tree(tmpdir);
}
END_TEST

static const doubt_param_info *find_param(const doubt_param_info *p, int n, const char *name)
{
    for (int k = 0; k < n; k++)
        if (!strcmp(p[k].name, name))
            return &p[k];
    return NULL;
}

/* Names and shapes against a PyTorch module's state_dict (tools/write_safetensors_torch.py). */
START_TEST(netdesc_params_match_pytorch)
{
    cJSON *golden = load_json(GOLDEN "params.json");
    /* the presets, and tiny descriptions of each architecture */
    const char *names[] = {"unet", "unet-small", "segnet", "segnet-small", "tiny", "segnet-tiny"};
    for (int g = 0; g < 6; g++) {
        const cJSON *entry = cJSON_GetObjectItem(golden, names[g]);
        ck_assert_ptr_nonnull(entry);
        const char *json = cJSON_GetObjectItem(entry, "network")->valuestring;
        doubt_netdesc d;
        doubt_error err = {{0}};
        ck_assert_int_eq(doubt_netdesc_parse(json, strlen(json), &d, &err), DOUBT_OK);
        if (g < 4) {
            doubt_netdesc p;
            ck_assert_int_eq(doubt_netdesc_preset(names[g], &p, &err), DOUBT_OK);
            ck_assert_mem_eq(&d, &p, sizeof d);
        }
        doubt_param_info p[DOUBT_NETDESC_MAX_PARAMS];
        int n = doubt_netdesc_params(&d, p, DOUBT_NETDESC_MAX_PARAMS);
        ck_assert_int_eq(doubt_netdesc_params(&d, NULL, 0), n);
        const cJSON *tensors = cJSON_GetObjectItem(entry, "tensors");
        ck_assert_int_eq(n, cJSON_GetArraySize(tensors));
        int64_t with_task = 0;
        for (int k = 0; k < n; k++)
            if (p[k].kind != DOUBT_PARAM_BUFFER)
                with_task += p[k].count;
        int at = 0;
        for (const cJSON *t = tensors->child; t; t = t->next, at++) {
            const char *name = t->child->valuestring;
            const doubt_param_info *q = find_param(p, n, name);
            ck_assert_msg(q != NULL, "%s: %s missing", names[g], name);
            /* in PyTorch's state_dict order */
            ck_assert_str_eq(p[at].name, name);
            const cJSON *shape = t->child->next;
            ck_assert_int_eq(q->ndim, cJSON_GetArraySize(shape));
            int k = 0;
            for (const cJSON *s = shape->child; s; s = s->next, k++)
                ck_assert_msg(q->shape[k] == (int64_t)s->valuedouble, "%s: %s dim %d: %lld vs %g",
                              names[g], name, k, (long long)q->shape[k], s->valuedouble);
        }
        ck_assert_int_eq(doubt_netdesc_param_count(&d),
                         (int64_t)cJSON_GetObjectItem(entry, "parameters")->valuedouble);
        ck_assert_int_eq(with_task,
                         (int64_t)cJSON_GetObjectItem(entry, "parameters_with_task")->valuedouble);
    }
    cJSON_Delete(golden);

    /* the deepest segnet, every level at the most convolutions, with learned dropout rates,
     * fills the documented maximum exactly; the deepest unet stays within it */
    doubt_netdesc d;
    ck_assert_int_eq(doubt_netdesc_preset("segnet-small", &d, NULL), DOUBT_OK);
    d.levels = DOUBT_NETDESC_MAX_LEVELS;
    for (int i = 0; i < d.levels; i++) {
        d.widths[i] = 8;
        d.convs[i] = DOUBT_NETDESC_MAX_CONVS;
    }
    doubt_netdesc_set_concrete(&d);
    ck_assert_int_eq(doubt_netdesc_validate(&d, NULL), DOUBT_OK);
    ck_assert_int_eq(doubt_netdesc_params(&d, NULL, 0), DOUBT_NETDESC_MAX_PARAMS);
    ck_assert_int_eq(doubt_netdesc_preset("unet", &d, NULL), DOUBT_OK);
    d.levels = DOUBT_NETDESC_MAX_LEVELS;
    for (int i = 5; i < d.levels; i++)
        d.widths[i] = 8;
    ck_assert_int_eq(doubt_netdesc_params(&d, NULL, 0), 10 * (2 * DOUBT_NETDESC_MAX_LEVELS - 1) + 3);
}
END_TEST

/* ---- safetensors ---------------------------------------------------------------------- */

START_TEST(half_and_bfloat16_bits)
{
    ck_assert(doubt_f16_to_f32(0x3c00) == 1.0f);
    ck_assert(doubt_f16_to_f32(0xc000) == -2.0f);
    ck_assert(doubt_f16_to_f32(0x3555) == 0.333251953125f);
    ck_assert(doubt_f16_to_f32(0x7bff) == 65504.0f);
    ck_assert(doubt_f16_to_f32(0x0400) == 0x1p-14f);         /* smallest normal */
    ck_assert(doubt_f16_to_f32(0x0001) == 0x1p-24f);         /* smallest subnormal */
    ck_assert(doubt_f16_to_f32(0x03ff) == 1023 * 0x1p-24f);  /* largest subnormal */
    ck_assert(doubt_f16_to_f32(0x8001) == -0x1p-24f);
    float z = doubt_f16_to_f32(0x8000);
    ck_assert(z == 0 && signbit(z));
    ck_assert(isinf(doubt_f16_to_f32(0x7c00)) && doubt_f16_to_f32(0x7c00) > 0);
    ck_assert(isinf(doubt_f16_to_f32(0xfc00)) && doubt_f16_to_f32(0xfc00) < 0);
    ck_assert(isnan(doubt_f16_to_f32(0x7e00)));
    ck_assert(isnan(doubt_f16_to_f32(0x7c01))); /* a signalling NaN stays NaN, not inf */

    ck_assert(doubt_bf16_to_f32(0x3f80) == 1.0f);
    ck_assert(doubt_bf16_to_f32(0xc049) == -3.140625f);
    ck_assert(doubt_bf16_to_f32(0x0001) == 0x1p-133f); /* float32 subnormal */
    ck_assert(isinf(doubt_bf16_to_f32(0x7f80)) && doubt_bf16_to_f32(0xff80) < 0);
    ck_assert(isnan(doubt_bf16_to_f32(0x7fc0)));
    ck_assert(isnan(doubt_bf16_to_f32(0x7f81)));
}
END_TEST

/* Tensors for every parameter of d, filled deterministically; caller frees data[]. */
static int make_tensors(const doubt_netdesc *d, doubt_param_info *p, doubt_st_write_tensor *w,
                        float **data)
{
    int n = doubt_netdesc_params(d, p, DOUBT_NETDESC_MAX_PARAMS);
    for (int k = 0; k < n; k++) {
        data[k] = malloc((size_t)p[k].count * sizeof(float));
        const int variance = strstr(p[k].name, "running_var") != NULL; /* the reader wants >= 0 */
        th_fill(data[k], p[k].count, (uint32_t)k + 1, variance ? 0.1f : -2, 2);
        w[k] = (doubt_st_write_tensor){p[k].name, p[k].ndim, p[k].shape, data[k]};
    }
    return n;
}

START_TEST(write_read_round_trip)
{
    doubt_netdesc d;
    doubt_error err = {{0}};
    ck_assert_int_eq(doubt_netdesc_preset("unet-small", &d, &err), DOUBT_OK);
    doubt_param_info p[DOUBT_NETDESC_MAX_PARAMS];
    doubt_st_write_tensor w[DOUBT_NETDESC_MAX_PARAMS];
    float *data[DOUBT_NETDESC_MAX_PARAMS];
    int n = make_tensors(&d, p, w, data);
    /* values that a careless conversion would change */
    const float special[] = {-0.0f, 0x1p-126f, -0x1.fffffep127f, 1.0f, 0x1p-149f,
                             0x1.fffffep127f};
    memcpy(data[0], special, sizeof special);

    make_tmpdir();
    char path[128];
    snprintf(path, sizeof path, "%s/w.safetensors", tmpdir);
    const char *meta[] = {"format", "doubt", "step", "7"};
    ck_assert_int_eq(doubt_safetensors_write(path, &d, meta, 2, w, n, &err), DOUBT_OK);
    /* a second write replaces the first in place and leaves no temporary behind */
    ck_assert_int_eq(doubt_safetensors_write(path, &d, meta, 2, w, n, &err), DOUBT_OK);
    ck_assert_int_eq(count_temporaries(tmpdir), 0);

    size_t len;
    unsigned char *raw = (unsigned char *)slurp(path, &len);
    uint64_t hlen = 0;
    for (int k = 7; k >= 0; k--)
        hlen = hlen << 8 | raw[k];
    ck_assert_uint_eq(hlen % 8, 0);
    int64_t total = 0;
    for (int k = 0; k < n; k++)
        total += p[k].count;
    ck_assert_uint_eq(len, 8 + hlen + 4 * (uint64_t)total);
    /* the first tensor's bytes are little-endian float32 straight after the header */
    uint32_t bits;
    memcpy(&bits, &special[5], 4);
    const unsigned char *x = raw + 8 + hlen + 5 * 4;
    ck_assert_uint_eq((uint32_t)x[0] | (uint32_t)x[1] << 8 | (uint32_t)x[2] << 16 |
                          (uint32_t)x[3] << 24,
                      bits);
    free(raw);

    doubt_safetensors *f = NULL;
    ck_assert_int_eq(doubt_safetensors_read(path, &f, &err), DOUBT_OK);
    ck_assert_int_eq(f->n_tensors, n);
    for (int k = 0; k < n; k++) {
        const doubt_st_tensor *t = &f->tensors[k];
        ck_assert_str_eq(t->name, p[k].name); /* written in the order given */
        ck_assert_int_eq(t->dtype, DOUBT_DT_F32);
        ck_assert_int_eq(t->ndim, p[k].ndim);
        ck_assert_mem_eq(t->shape, p[k].shape, (size_t)t->ndim * sizeof t->shape[0]);
        ck_assert_int_eq(t->count, p[k].count);
        ck_assert_mem_eq(t->data, data[k], (size_t)t->count * sizeof(float)); /* bit-exact */
        ck_assert_ptr_eq(doubt_safetensors_find(f, p[k].name), t);
    }
    ck_assert_ptr_null(doubt_safetensors_find(f, "enc.9.conv1.weight"));
    ck_assert_str_eq(doubt_safetensors_meta(f, "format"), "doubt");
    ck_assert_str_eq(doubt_safetensors_meta(f, "step"), "7");
    ck_assert_ptr_null(doubt_safetensors_meta(f, "nope"));
    char json[DOUBT_NETDESC_JSON_MAX];
    ck_assert_int_eq(doubt_netdesc_to_json(&d, json, sizeof json, &err), DOUBT_OK);
    ck_assert_str_eq(doubt_safetensors_meta(f, "network"), json);
    ck_assert(f->has_network);
    ck_assert_mem_eq(&f->network, &d, sizeof d);
    ck_assert_int_eq(doubt_safetensors_check(f, NULL, true, &err), DOUBT_OK);
    doubt_safetensors_destroy(f);
    doubt_safetensors_destroy(NULL);

    for (int k = 0; k < n; k++)
        free(data[k]);
    th_remove_tree(tmpdir);
}
END_TEST

START_TEST(write_failures_leave_files_intact)
{
    doubt_netdesc d;
    doubt_error err = {{0}};
    ck_assert_int_eq(doubt_netdesc_from_config(TINY_JSON, &d, &err), DOUBT_OK);
    doubt_param_info p[DOUBT_NETDESC_MAX_PARAMS];
    doubt_st_write_tensor w[DOUBT_NETDESC_MAX_PARAMS];
    float *data[DOUBT_NETDESC_MAX_PARAMS];
    int n = make_tensors(&d, p, w, data);
    make_tmpdir();
    char path[128];
    snprintf(path, sizeof path, "%s/w.safetensors", tmpdir);
    ck_assert_int_eq(doubt_safetensors_write(path, &d, NULL, 0, w, n, &err), DOUBT_OK);
    size_t len0;
    char *before = slurp(path, &len0);

    /* refused arguments: nothing is touched */
    w[1].name = w[0].name;
    ck_assert_int_eq(doubt_safetensors_write(path, &d, NULL, 0, w, n, &err), DOUBT_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "given twice"));
    w[1].name = p[1].name;
    const char *meta[] = {"network", "{}"};
    ck_assert_int_eq(doubt_safetensors_write(path, &d, meta, 1, w, n, &err), DOUBT_ERR_ARG);
    doubt_netdesc bad = d;
    bad.classes = 0;
    ck_assert_int_eq(doubt_safetensors_write(path, &bad, NULL, 0, w, n, &err), DOUBT_ERR_ARG);
    size_t len1;
    char *after = slurp(path, &len1);
    ck_assert_uint_eq(len0, len1);
    ck_assert_mem_eq(before, after, len0);
    free(after);

    /* the rename fails (a non-empty directory is in the way): the temporary is removed */
    char blocked[160], inside[192];
    snprintf(blocked, sizeof blocked, "%s/dir.safetensors", tmpdir);
    ck_assert_int_eq(mkdir(blocked, 0755), 0);
    snprintf(inside, sizeof inside, "%s/x", blocked);
    spit(inside, "x", 1);
    ck_assert_int_eq(doubt_safetensors_write(blocked, &d, NULL, 0, w, n, &err), DOUBT_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, blocked));
    ck_assert_int_eq(count_temporaries(tmpdir), 0);
    /* a folder that does not exist */
    snprintf(blocked, sizeof blocked, "%s/no/such/w.safetensors", tmpdir);
    ck_assert_int_eq(doubt_safetensors_write(blocked, &d, NULL, 0, w, n, &err), DOUBT_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, blocked));

    free(before);
    for (int k = 0; k < n; k++)
        free(data[k]);
    th_remove_tree(tmpdir);
}
END_TEST

/* Every float value of a file against tiny_values.json; key "f32" or "mixed". */
static void expect_values(const doubt_safetensors *f, const char *key)
{
    cJSON *golden = load_json(GOLDEN "tiny_values.json");
    const cJSON *tensors = cJSON_GetObjectItem(golden, "tensors");
    int checked = 0;
    for (const cJSON *t = tensors->child; t; t = t->next, checked++) {
        const doubt_st_tensor *s = doubt_safetensors_find(f, t->string);
        ck_assert_msg(s != NULL, "%s missing", t->string);
        const cJSON *vals = cJSON_GetObjectItem(t, key);
        ck_assert_int_eq(s->count, cJSON_GetArraySize(vals));
        int64_t i = 0;
        for (const cJSON *v = vals->child; v; v = v->next, i++)
            ck_assert_msg(s->data[i] == (float)v->valuedouble, "%s[%lld]: %a vs %a", t->string,
                          (long long)i, s->data[i], v->valuedouble);
    }
    ck_assert_int_eq(checked, 33);
    cJSON_Delete(golden);
}

START_TEST(reads_pytorch_mixed_dtypes)
{
    doubt_safetensors *f = NULL;
    doubt_error err = {{0}};
    const char *path = GOLDEN "tiny_mixed.safetensors";
    ck_assert_int_eq(doubt_safetensors_read(path, &f, &err), DOUBT_OK);
    expect_values(f, "mixed");
    const doubt_st_tensor *h = doubt_safetensors_find(f, "dec.0.conv2.weight");
    const doubt_st_tensor *b = doubt_safetensors_find(f, "head.weight");
    ck_assert_int_eq(h->dtype, DOUBT_DT_F16);
    ck_assert_int_eq(b->dtype, DOUBT_DT_BF16);
    ck_assert_int_eq(doubt_safetensors_find(f, "enc.0.conv1.weight")->dtype, DOUBT_DT_F32);
    /* the subnormals the script planted, by hand */
    ck_assert(h->data[0] == 0x1p-20f);
    ck_assert(h->data[1] == -0x1p-24f);
    ck_assert(b->data[0] == 0x1p-130f);
    const doubt_st_tensor *nb = doubt_safetensors_find(f, "enc.1.bn2.num_batches_tracked");
    ck_assert_ptr_nonnull(nb);
    ck_assert_int_eq(nb->dtype, DOUBT_DT_I64);
    ck_assert_int_eq(nb->ndim, 0);
    ck_assert_int_eq(nb->count, 1);
    ck_assert_ptr_null(nb->data);
    ck_assert_str_eq(doubt_safetensors_meta(f, "format"), "pt");
    ck_assert(f->has_network);
    ck_assert_int_eq(f->network.classes, 3);
    ck_assert_int_eq(doubt_safetensors_check(f, NULL, true, &err), DOUBT_OK);
    doubt_safetensors_destroy(f);
}
END_TEST

START_TEST(reads_pytorch_without_metadata)
{
    doubt_safetensors *f = NULL;
    doubt_error err = {{0}};
    const char *path = GOLDEN "tiny_nometa.safetensors";
    ck_assert_int_eq(doubt_safetensors_read(path, &f, &err), DOUBT_OK);
    expect_values(f, "f32");
    ck_assert(!f->has_network);
    ck_assert_int_eq(f->n_meta, 0);
    ck_assert_int_eq(doubt_safetensors_check(f, NULL, false, &err), DOUBT_ERR_FORMAT);
    ck_assert_str_eq(err.msg, GOLDEN "tiny_nometa.safetensors: no \"network\" description in "
                              "__metadata__");
    doubt_netdesc d;
    ck_assert_int_eq(doubt_netdesc_from_config(TINY_JSON, &d, &err), DOUBT_OK);
    ck_assert_int_eq(doubt_safetensors_check(f, &d, true, &err), DOUBT_OK);
    doubt_safetensors_destroy(f);
}
END_TEST

START_TEST(check_names_the_problem)
{
    doubt_netdesc d;
    doubt_error err = {{0}};
    ck_assert_int_eq(doubt_netdesc_from_config(TINY_JSON, &d, &err), DOUBT_OK);
    doubt_param_info p[DOUBT_NETDESC_MAX_PARAMS];
    doubt_st_write_tensor w[DOUBT_NETDESC_MAX_PARAMS + 2];
    float *data[DOUBT_NETDESC_MAX_PARAMS];
    int n = make_tensors(&d, p, w, data);
    make_tmpdir();
    char path[128], want[256];
    snprintf(path, sizeof path, "%s/w.safetensors", tmpdir);
    doubt_safetensors *f = NULL;

    /* the file has widths [4,8]; a network with [4,16] differs from enc.1 on */
    ck_assert_int_eq(doubt_safetensors_write(path, &d, NULL, 0, w, n, &err), DOUBT_OK);
    ck_assert_int_eq(doubt_safetensors_read(path, &f, &err), DOUBT_OK);
    doubt_netdesc wide = d;
    wide.widths[1] = 16;
    ck_assert_int_eq(doubt_safetensors_check(f, &wide, false, &err), DOUBT_ERR_FORMAT);
    snprintf(want, sizeof want,
             "%s: enc.1.conv1.weight has shape [8,4,3,3], network expects [16,4,3,3] (and ",
             path);
    ck_assert_msg(!strncmp(err.msg, want, strlen(want)), "got '%s'", err.msg);
    doubt_safetensors_destroy(f);

    /* inference weights may leave task.log_var out, training needs it */
    ck_assert_int_eq(doubt_safetensors_write(path, &d, NULL, 0, w, n - 1, &err), DOUBT_OK);
    ck_assert_int_eq(doubt_safetensors_read(path, &f, &err), DOUBT_OK);
    ck_assert_int_eq(doubt_safetensors_check(f, NULL, false, &err), DOUBT_OK);
    ck_assert_int_eq(doubt_safetensors_check(f, NULL, true, &err), DOUBT_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: missing tensor task.log_var (network expects [2])", path);
    ck_assert_str_eq(err.msg, want);
    doubt_safetensors_destroy(f);

    /* optimizer state and num_batches_tracked are ignored, anything else is reported */
    const int64_t one = 1;
    float zero = 0;
    w[n] = (doubt_st_write_tensor){"optim.adam.m.enc.0.conv1.weight", 1, &one, &zero};
    w[n + 1] = (doubt_st_write_tensor){"enc.0.bn1.num_batches_tracked", 0, NULL, &zero};
    ck_assert_int_eq(doubt_safetensors_write(path, &d, NULL, 0, w, n + 2, &err), DOUBT_OK);
    ck_assert_int_eq(doubt_safetensors_read(path, &f, &err), DOUBT_OK);
    ck_assert_int_eq(doubt_safetensors_check(f, NULL, true, &err), DOUBT_OK);
    doubt_safetensors_destroy(f);
    w[n] = (doubt_st_write_tensor){"encoder.0.conv1.weight", 1, &one, &zero};
    ck_assert_int_eq(doubt_safetensors_write(path, &d, NULL, 0, w, n + 1, &err), DOUBT_OK);
    ck_assert_int_eq(doubt_safetensors_read(path, &f, &err), DOUBT_OK);
    ck_assert_int_eq(doubt_safetensors_check(f, NULL, true, &err), DOUBT_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: unexpected tensor encoder.0.conv1.weight (not part of the "
                                "network)", path);
    ck_assert_str_eq(err.msg, want);
    doubt_safetensors_destroy(f);

    /* an integer tensor where the network needs floats: the first "F32" in the header is
     * enc.0.conv1.weight's, and I32 has the same size */
    ck_assert_int_eq(doubt_safetensors_write(path, &d, NULL, 0, w, n, &err), DOUBT_OK);
    size_t len;
    char *bytes = slurp(path, &len);
    char *f32 = strstr(bytes + 8, "\"F32\"");
    ck_assert_ptr_nonnull(f32);
    f32[1] = 'I';
    spit(path, bytes, len);
    free(bytes);
    ck_assert_int_eq(doubt_safetensors_read(path, &f, &err), DOUBT_OK);
    ck_assert_ptr_null(f->tensors[0].data);
    ck_assert_int_eq(doubt_safetensors_check(f, NULL, true, &err), DOUBT_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: enc.0.conv1.weight has dtype I32, expected a float dtype "
                                "(F32, F16, BF16, F64)", path);
    ck_assert_str_eq(err.msg, want);
    doubt_safetensors_destroy(f);

    for (int k = 0; k < n; k++)
        free(data[k]);
    th_remove_tree(tmpdir);
}
END_TEST

/* A file from a header text and data bytes. */
static void make_file(const char *path, const char *header, size_t data_len)
{
    size_t h = strlen(header);
    unsigned char *buf = calloc(1, 8 + h + data_len);
    for (int k = 0; k < 8; k++)
        buf[k] = (unsigned char)((uint64_t)h >> (8 * k));
    memcpy(buf + 8, header, h);
    spit(path, buf, 8 + h + data_len);
    free(buf);
}

#define ENTRY(name, dtype, shape, b, e) \
    "\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e "]}"

static const struct {
    const char *header;
    size_t data_len;
    const char *says;
} bad_files[] = {
    {"[1,2]", 0, "header is not a JSON object"},
    {"{\"a\":{\"dtype\":\"F32\"", 0, "header JSON not parseable"},
    {"{" ENTRY("a", "F32", "[1]", 0, 4) "}xyz", 4, "unexpected bytes after the header JSON"},
    {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor 'a' has no \"dtype\""},
    {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "tensor 'a' has no \"shape\""},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "tensor 'a' has no \"data_offsets\""},
    {"{\"a\":7}", 0, "entry 'a' is not a JSON object"},
    {"{" ENTRY("a", "F31", "[1]", 0, 4) "}", 4, "tensor 'a' has unknown dtype 'F31'"},
    {"{" ENTRY("a", "F32", "[-1]", 0, 4) "}", 4, "non-negative integer"},
    {"{" ENTRY("a", "F32", "[1.5]", 0, 4) "}", 4, "non-negative integer"},
    {"{" ENTRY("a", "F32", "[1]", 4, 0) "}", 4, "end before they begin"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4,
     "data_offsets is not [begin, end]"},
    {"{" ENTRY("a", "F32", "[3]", 0, 8) "}", 8,
     "tensor 'a' spans 8 bytes, its shape and dtype F32 need 12"},
    {"{" ENTRY("a", "F16", "[2,2]", 0, 16) "}", 16,
     "spans 16 bytes, its shape and dtype F16 need 8"},
    {"{" ENTRY("a", "F32", "[2]", 0, 8) "," ENTRY("b", "F32", "[1]", 12, 16) "}", 16,
     "data not contiguous: 4 unused bytes before tensor 'b'"},
    {"{" ENTRY("a", "F32", "[2]", 4, 12) "}", 12, "data not contiguous: 4 unused bytes"},
    {"{" ENTRY("a", "F32", "[2]", 0, 8) "," ENTRY("b", "F32", "[2]", 4, 12) "}", 12,
     "tensor 'b' overlaps tensor 'a'"},
    {"{" ENTRY("a", "F32", "[2]", 0, 8) "}", 4, "lie outside the data section of 4 bytes"},
    {"{" ENTRY("a", "F32", "[2]", 0, 8) "}", 12, "4 trailing bytes after the last tensor"},
    {"{" ENTRY("a", "F32", "[1]", 0, 4) "," ENTRY("a", "F32", "[1]", 4, 8) "}", 8,
     "header key 'a' appears twice"},
    {"{\"__metadata__\":[1]}", 0, "__metadata__ is not a JSON object"},
    {"{\"__metadata__\":{\"step\":7}}", 0, "__metadata__ value of 'step' is not a string"},
    {"{\"__metadata__\":{\"network\":\"{\\\"arch\\\":\\\"vgg\\\",\\\"in_channels\\\":3,"
     "\\\"classes\\\":8,\\\"widths\\\":[4],\\\"dropout\\\":0}\"}}",
     0,
     "__metadata__ \"network\": network description: unknown arch 'vgg'"},
    {"{" ENTRY("a", "F32", "[4294967296,4294967296,4294967296]", 0, 4) "}", 4,
     "shape is absurdly large"},
};

START_TEST(rejects_malformed_headers)
{
    make_tmpdir();
    char path[128];
    snprintf(path, sizeof path, "%s/bad%d.safetensors", tmpdir, _i);
    make_file(path, bad_files[_i].header, bad_files[_i].data_len);
    doubt_safetensors *f = (doubt_safetensors *)&f; /* must be reset to NULL */
    doubt_error err = {{0}};
    ck_assert_int_eq(doubt_safetensors_read(path, &f, &err), DOUBT_ERR_FORMAT);
    ck_assert_ptr_null(f);
    ck_assert_msg(!strncmp(err.msg, path, strlen(path)), "no file name in '%s'", err.msg);
    ck_assert_msg(strstr(err.msg, bad_files[_i].says), "%s: got '%s', want '%s'",
                  bad_files[_i].header, err.msg, bad_files[_i].says);
    th_remove_tree(tmpdir);
}
END_TEST

/* Damage done to a good file's bytes: its length word and its size. */
START_TEST(rejects_damaged_files)
{
    size_t len;
    unsigned char *good = (unsigned char *)slurp(GOLDEN "tiny_mixed.safetensors", &len);
    make_tmpdir();
    char path[128];
    snprintf(path, sizeof path, "%s/damaged.safetensors", tmpdir);
    doubt_safetensors *f = NULL;
    doubt_error err = {{0}};
    struct {
        size_t keep;      /* bytes of the good file kept */
        uint64_t hlen;    /* replaces the header length when nonzero */
        const char *says;
    } cases[] = {
        {0, 0, "0 bytes, shorter than the 8-byte header length"},
        {5, 0, "5 bytes, shorter than the 8-byte header length"},
        {len, 200u << 20, "header length 209715200 is absurd"},
        {len, len, "goes beyond the end of the file"},
        {len, 0xffffffffffffffffull, "is absurd"},
        {len - 1, 0, "lie outside the data section"}, /* last tensor cut short */
        {100, 0, "goes beyond the end of the file"},  /* cut inside the header */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        unsigned char *bytes = malloc(len);
        memcpy(bytes, good, len);
        if (cases[c].hlen)
            for (int k = 0; k < 8; k++)
                bytes[k] = (unsigned char)(cases[c].hlen >> (8 * k));
        spit(path, bytes, cases[c].keep);
        free(bytes);
        ck_assert_int_eq(doubt_safetensors_read(path, &f, &err), DOUBT_ERR_FORMAT);
        ck_assert_msg(!strncmp(err.msg, path, strlen(path)) && strstr(err.msg, cases[c].says),
                      "case %zu: got '%s', want '%s'", c, err.msg, cases[c].says);
    }
    snprintf(path, sizeof path, "%s/absent.safetensors", tmpdir);
    ck_assert_int_eq(doubt_safetensors_read(path, &f, &err), DOUBT_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    free(good);
    th_remove_tree(tmpdir);
}
END_TEST


/* Issue 14.6: NaN or infinite weights, and a negative running variance (whose square root
 * batch-norm folding takes), are refused by name instead of loaded. */
START_TEST(rejects_non_finite_values_and_negative_variance)
{
    doubt_netdesc d;
    doubt_error err = {{0}};
    ck_assert_int_eq(doubt_netdesc_from_config(TINY_JSON, &d, &err), DOUBT_OK);
    doubt_param_info p[DOUBT_NETDESC_MAX_PARAMS];
    doubt_st_write_tensor w[DOUBT_NETDESC_MAX_PARAMS];
    float *data[DOUBT_NETDESC_MAX_PARAMS];
    int n = make_tensors(&d, p, w, data);
    int conv = -1, var = -1;
    for (int k = 0; k < n; k++) {
        if (!strcmp(p[k].name, "enc.1.conv2.weight"))
            conv = k;
        if (!strcmp(p[k].name, "dec.0.bn1.running_var"))
            var = k;
    }
    ck_assert(conv >= 0 && var >= 0);
    make_tmpdir();
    char path[128];
    snprintf(path, sizeof path, "%s/w.safetensors", tmpdir);
    const struct {
        int tensor;
        float value;
        const char *says;
    } cases[] = {
        {conv, NAN, "enc.1.conv2.weight holds NaN at element 1"},
        {conv, INFINITY, "enc.1.conv2.weight holds inf at element 1"},
        {conv, -INFINITY, "enc.1.conv2.weight holds -inf at element 1"},
        {var, -0.25f, "dec.0.bn1.running_var holds -0.25 at element 1, a variance must be >= 0"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const float keep = data[cases[c].tensor][1];
        data[cases[c].tensor][1] = cases[c].value;
        ck_assert_int_eq(doubt_safetensors_write(path, &d, NULL, 0, w, n, &err), DOUBT_OK);
        doubt_safetensors *f = NULL;
        ck_assert_msg(doubt_safetensors_read(path, &f, &err) == DOUBT_ERR_FORMAT,
                      "case %zu: read accepted it", c);
        ck_assert_ptr_null(f);
        ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, cases[c].says),
                      "case %zu: got '%s', want '%s'", c, err.msg, cases[c].says);
        data[cases[c].tensor][1] = keep;
    }
    for (int k = 0; k < n; k++)
        free(data[k]);
    th_remove_tree(tmpdir);
}
END_TEST

/* Issue 14.6: a header of a few hundred thousand entries is refused quickly, not after
 * comparing every name with every other (the tcase's timeout catches that). */
START_TEST(huge_headers_are_refused_quickly)
{
    const int entries = 400000;
    size_t cap = (size_t)entries * 16 + 16, at = 0;
    char *header = malloc(cap);
    header[at++] = '{';
    for (int i = 0; i < entries; i++)
        at += (size_t)snprintf(header + at, cap - at, "%s\"t%07d\":{}", i ? "," : "", i);
    header[at++] = '}';
    header[at] = '\0';
    make_tmpdir();
    char path[128];
    snprintf(path, sizeof path, "%s/huge.safetensors", tmpdir);
    make_file(path, header, 0);
    free(header);
    doubt_safetensors *f = NULL;
    doubt_error err = {{0}};
    ck_assert_int_eq(doubt_safetensors_read(path, &f, &err), DOUBT_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "has no \"dtype\""), "%s", err.msg);
    th_remove_tree(tmpdir);
}
END_TEST

/* Issue 14.8: weights go through the same atomic writer as every other output, so they get
 * the same permissions (the umask's, like any file a program creates). */
START_TEST(weights_get_the_permissions_of_other_outputs)
{
    doubt_netdesc d;
    doubt_error err = {{0}};
    ck_assert_int_eq(doubt_netdesc_from_config(TINY_JSON, &d, &err), DOUBT_OK);
    doubt_param_info p[DOUBT_NETDESC_MAX_PARAMS];
    doubt_st_write_tensor w[DOUBT_NETDESC_MAX_PARAMS];
    float *data[DOUBT_NETDESC_MAX_PARAMS];
    int n = make_tensors(&d, p, w, data);
    make_tmpdir();
    char weights[128], map[128];
    snprintf(weights, sizeof weights, "%s/w.safetensors", tmpdir);
    snprintf(map, sizeof map, "%s/m.npy", tmpdir);
    const mode_t old = umask(027);
    const int64_t shape[1] = {4};
    ck_assert_int_eq(doubt_safetensors_write(weights, &d, NULL, 0, w, n, &err), DOUBT_OK);
    ck_assert_int_eq(doubt_npy_write_f32(map, data[0], 1, shape, &err), DOUBT_OK);
    umask(old);
    struct stat a, b;
    ck_assert_int_eq(stat(weights, &a), 0);
    ck_assert_int_eq(stat(map, &b), 0);
    ck_assert_msg((a.st_mode & 0777) == (b.st_mode & 0777) && (b.st_mode & 0777) == 0640,
                  "weights %o, .npy %o", (unsigned)(a.st_mode & 0777),
                  (unsigned)(b.st_mode & 0777));
    for (int k = 0; k < n; k++)
        free(data[k]);
    th_remove_tree(tmpdir);
}
END_TEST

/* Issue 14.8: while weights are being written, a folder listing (predict's, which skips
 * names starting with '.') never sees the temporary. A child writes a large file over and
 * over; the parent lists the folder meanwhile. */
START_TEST(weights_temporary_is_hidden_from_listings)
{
    doubt_netdesc d;
    doubt_error err = {{0}};
    ck_assert_int_eq(doubt_netdesc_from_config(TINY_JSON, &d, &err), DOUBT_OK);
    const int64_t count = 4 << 20;
    float *big = calloc((size_t)count, sizeof *big);
    const doubt_st_write_tensor t = {"big", 1, &count, big};
    make_tmpdir();
    char path[128];
    snprintf(path, sizeof path, "%s/w.safetensors", tmpdir);
    fflush(NULL);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        for (int i = 0; i < 4; i++)
            if (doubt_safetensors_write(path, &d, NULL, 0, &t, 1, &err))
                _exit(1);
        _exit(0);
    }
    char seen[256] = "";
    int status = 0;
    while (waitpid(child, &status, WNOHANG) == 0) {
        DIR *dir = opendir(tmpdir);
        ck_assert_ptr_nonnull(dir);
        struct dirent *e;
        while ((e = readdir(dir)))
            if (e->d_name[0] != '.' && strcmp(e->d_name, "w.safetensors") && !seen[0])
                snprintf(seen, sizeof seen, "%s", e->d_name);
        closedir(dir);
    }
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_msg(!seen[0], "a listing saw '%s' while the weights were written", seen);
    ck_assert_int_eq(count_temporaries(tmpdir), 0);
    free(big);
    th_remove_tree(tmpdir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("model_files");
    TCase *desc = tcase_create("netdesc");
    tcase_add_test(desc, netdesc_round_trip);
    tcase_add_test(desc, netdesc_dropout_rates);
    tcase_add_test(desc, netdesc_no_depth_classes);
    tcase_add_loop_test(desc, netdesc_rejects, 0, (int)(sizeof bad_desc / sizeof bad_desc[0]));
    tcase_add_test(desc, netdesc_presets_and_files);
    tcase_add_test(desc, netdesc_params_match_pytorch);
    suite_add_tcase(s, desc);
    TCase *rw = tcase_create("safetensors");
    tcase_add_test(rw, half_and_bfloat16_bits);
    tcase_add_test(rw, write_read_round_trip);
    tcase_add_test(rw, write_failures_leave_files_intact);
    tcase_add_test(rw, reads_pytorch_mixed_dtypes);
    tcase_add_test(rw, reads_pytorch_without_metadata);
    tcase_add_test(rw, check_names_the_problem);
    tcase_add_test(rw, rejects_non_finite_values_and_negative_variance);
    tcase_add_test(rw, weights_get_the_permissions_of_other_outputs);
    tcase_add_test(rw, weights_temporary_is_hidden_from_listings);
    suite_add_tcase(s, rw);
    TCase *bad = tcase_create("malformed");
    tcase_add_loop_test(bad, rejects_malformed_headers, 0,
                        (int)(sizeof bad_files / sizeof bad_files[0]));
    tcase_add_test(bad, rejects_damaged_files);
    suite_add_tcase(s, bad);
    TCase *huge = tcase_create("huge");
    tcase_set_timeout(huge, 20);
    tcase_add_test(huge, huge_headers_are_refused_quickly);
    suite_add_tcase(s, huge);
    return th_run(s);
}
