/* Panels and the HTML gallery for a prediction folder. */
#include "inspect.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fsutil.h"
#include "heatmap.h"
#include "image.h"
#include "panel.h"
#include "png.h"

const char *const doubt_inspect_heatmaps[DOUBT_INSPECT_HEATMAPS] = {
    "depth_epistemic", "depth_aleatoric", "depth_total",    "seg_entropy",
    "seg_aleatoric",   "seg_mutual_info", "seg_logit_var"};

static const char *const heatmap_title[DOUBT_INSPECT_HEATMAPS] = {
    "Depth epistemic (m2)", "Depth aleatoric (m2)",   "Depth total (m2)",
    "Seg entropy (nats)",   "Seg aleatoric (nats)",   "Seg mutual info (nats)",
    "Seg logit variance"};

/* Files predict writes, by which a NAME is recognised. */
static const char *const known_suffix[] = {".seg.png",
                                           ".depth.png",
                                           ".depth_color.png",
                                           ".depth_epistemic.png",
                                           ".depth_aleatoric.png",
                                           ".depth_total.png",
                                           ".seg_entropy.png",
                                           ".seg_aleatoric.png",
                                           ".seg_mutual_info.png",
                                           ".seg_logit_var.png"};

doubt_inspect_opts doubt_inspect_defaults(void)
{
    return (doubt_inspect_opts){.images = NULL, .depth_lo = 0.0f, .depth_hi = 20.0f};
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void doubt_inspect_list_free(char **names, int count)
{
    for (int i = 0; names && i < count; i++)
        free(names[i]);
    free(names);
}

doubt_status doubt_inspect_list(const char *dir, char ***names, int *count, doubt_error *err)
{
    *names = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d)
        return doubt_fail(err, DOUBT_ERR_IO, "%s: %s", dir, strerror(errno));
    char **v = NULL;
    int n = 0, cap = 0;
    doubt_status st = DOUBT_OK;
    struct dirent *e;
    while (!st && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue; /* temporaries of an interrupted writer */
        size_t len = strlen(e->d_name);
        for (size_t k = 0; k < sizeof known_suffix / sizeof known_suffix[0]; k++) {
            size_t sl = strlen(known_suffix[k]);
            if (len <= sl || strcmp(e->d_name + len - sl, known_suffix[k]))
                continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 64;
                char **t = realloc(v, (size_t)cap * sizeof *v);
                if (!t) {
                    st = doubt_fail(err, DOUBT_ERR_NOMEM, "out of memory listing %s", dir);
                    break;
                }
                v = t;
            }
            if (!(v[n] = malloc(len - sl + 1))) {
                st = doubt_fail(err, DOUBT_ERR_NOMEM, "out of memory listing %s", dir);
                break;
            }
            memcpy(v[n], e->d_name, len - sl);
            v[n++][len - sl] = '\0';
            break;
        }
    }
    closedir(d);
    if (!st && n == 0)
        st = doubt_fail(err, DOUBT_ERR_FORMAT,
                        "%s holds no predictions (no NAME.seg.png, NAME.depth.png, ...)", dir);
    if (st) {
        doubt_inspect_list_free(v, n);
        return st;
    }
    qsort(v, (size_t)n, sizeof *v, cmp_str);
    int u = 0; /* one entry per NAME, however many of its files were seen */
    for (int i = 0; i < n; i++) {
        if (u && !strcmp(v[u - 1], v[i]))
            free(v[i]);
        else
            v[u++] = v[i];
    }
    *names = v;
    *count = u;
    return DOUBT_OK;
}

static doubt_status file_of(char *path, const char *dir, const char *name, const char *suffix,
                            doubt_error *err)
{
    char base[DOUBT_PATH_MAX];
    if (snprintf(base, sizeof base, "%s%s", name, suffix) >= (int)sizeof base)
        return doubt_fail(err, DOUBT_ERR_ARG, "name too long: %s", name);
    return doubt_path_join(path, dir, base, err);
}

static int is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static doubt_status find_input(const char *images, const char *name, char *path, doubt_error *err)
{
    static const char *const ext[] = {".png", ".jpg", ".jpeg", ".bmp", ".tga",
                                      ".PNG", ".JPG", ".JPEG", ".BMP", ".TGA"};
    for (size_t k = 0; k < sizeof ext / sizeof ext[0]; k++) {
        doubt_status st = file_of(path, images, name, ext[k], err);
        if (st)
            return st;
        if (is_file(path))
            return DOUBT_OK;
    }
    return doubt_fail(err, DOUBT_ERR_IO, "no input image %s/%s.{png,jpg,jpeg,bmp,tga}", images,
                      name);
}

/* The images of one panel; all owned. */
typedef struct {
    uint8_t *input, *seg, *depth, *heat[DOUBT_INSPECT_HEATMAPS];
    int iw, ih, sw, sh, dw, dh, hw[DOUBT_INSPECT_HEATMAPS], hh[DOUBT_INSPECT_HEATMAPS];
} panel_images;

static void panel_images_free(panel_images *p)
{
    free(p->input);
    free(p->seg);
    free(p->depth);
    for (int k = 0; k < DOUBT_INSPECT_HEATMAPS; k++)
        free(p->heat[k]);
}

static doubt_status read_rgb(const char *dir, const char *name, const char *suffix, uint8_t **rgb,
                             int *w, int *h, doubt_error *err)
{
    char path[DOUBT_PATH_MAX];
    doubt_status st = file_of(path, dir, name, suffix, err);
    if (st)
        return st;
    if (!is_file(path))
        return doubt_fail(err, DOUBT_ERR_IO, "%s: missing", path);
    return doubt_image_read_rgb8(path, 0, rgb, w, h, err);
}

/* The depth tile: predict's own coloured depth when it wrote one, else depth.png coloured
 * here on the fixed range. Either way depth.png is read for the mean. */
static doubt_status load_depth(const char *dir, const char *name, const doubt_inspect_opts *o,
                               panel_images *p, double *mean_depth, doubt_error *err)
{
    char path[DOUBT_PATH_MAX];
    doubt_status st = file_of(path, dir, name, ".depth.png", err);
    if (st)
        return st;
    if (!is_file(path))
        return doubt_fail(err, DOUBT_ERR_IO, "%s: missing", path);
    float *depth = NULL;
    int w, h;
    if ((st = doubt_image_read_depth(path, 0, DOUBT_DEPTH_SCALE_DEFAULT, &depth, &w, &h, err)))
        return st;
    double sum = 0;
    int64_t valid = 0;
    for (int64_t i = 0; i < (int64_t)w * h; i++)
        if (depth[i] > 0) {
            sum += depth[i];
            valid++;
        }
    if (mean_depth)
        *mean_depth = valid ? sum / (double)valid : NAN;
    char color[DOUBT_PATH_MAX];
    st = file_of(color, dir, name, ".depth_color.png", err);
    if (!st && is_file(color))
        st = doubt_image_read_rgb8(color, 0, &p->depth, &p->dw, &p->dh, err);
    else if (!st) {
        doubt_heatmap_opts ho = doubt_heatmap_defaults();
        ho.lo = o->depth_lo;
        ho.hi = o->depth_hi;
        ho.cmap = DOUBT_CMAP_TURBO;
        ho.units = "m";
        for (int64_t i = 0; i < (int64_t)w * h; i++)
            depth[i] = depth[i] > 0 ? depth[i] : NAN; /* 0 = no depth: the invalid colour */
        doubt_heatmap_layout lay;
        st = doubt_heatmap_render(depth, NULL, w, h, &ho, &p->depth, &lay, err);
        p->dw = lay.width;
        p->dh = lay.height;
    }
    free(depth);
    return st;
}

doubt_status doubt_inspect_panel(const char *dir, const char *name, const doubt_inspect_opts *o,
                                 const char *out, const char *thumb, double *mean_depth,
                                 doubt_error *err)
{
    panel_images p;
    memset(&p, 0, sizeof p);
    uint8_t *canvas = NULL, *overlay = NULL;
    char path[DOUBT_PATH_MAX];
    doubt_status st = read_rgb(dir, name, ".seg.png", &p.seg, &p.sw, &p.sh, err);
    if (!st && o->images && !(st = find_input(o->images, name, path, err)))
        st = doubt_image_read_rgb8(path, 0, &p.input, &p.iw, &p.ih, err);
    if (!st && p.input && (p.iw != p.sw || p.ih != p.sh))
        st = doubt_fail(err, DOUBT_ERR_FORMAT, "%s is %dx%d but %s/%s.seg.png is %dx%d", path, p.iw,
                        p.ih, dir, name, p.sw, p.sh);
    if (!st)
        st = load_depth(dir, name, o, &p, mean_depth, err);
    for (int k = 0; !st && k < DOUBT_INSPECT_HEATMAPS; k++) {
        char suffix[64];
        snprintf(suffix, sizeof suffix, ".%s.png", doubt_inspect_heatmaps[k]);
        st = read_rgb(dir, name, suffix, &p.heat[k], &p.hw[k], &p.hh[k], err);
    }
    if (st)
        goto done;
    size_t bytes = (size_t)p.sw * p.sh * 3;
    if (!(overlay = malloc(bytes))) {
        st = doubt_fail(err, DOUBT_ERR_NOMEM, "out of memory for %s", name);
        goto done;
    }
    if (p.input) {
        memcpy(overlay, p.input, bytes);
        doubt_panel_blend(overlay, p.seg, (int64_t)p.sw * p.sh, DOUBT_INSPECT_OVERLAY_ALPHA);
    } else
        memcpy(overlay, p.seg, bytes);
    doubt_panel_tile tiles[3 + DOUBT_INSPECT_HEATMAPS];
    int n = 0;
    if (p.input)
        tiles[n++] = (doubt_panel_tile){p.input, p.iw, p.ih, "Input"};
    tiles[n++] = (doubt_panel_tile){overlay, p.sw, p.sh, p.input ? "Segmentation" : "Seg classes"};
    tiles[n++] = (doubt_panel_tile){p.depth, p.dw, p.dh, "Depth (m)"};
    for (int k = 0; k < DOUBT_INSPECT_HEATMAPS; k++)
        tiles[n++] = (doubt_panel_tile){p.heat[k], p.hw[k], p.hh[k], heatmap_title[k]};
    /* The heatmaps keep their own height (the colorbar labels stay at their drawn size);
     * smaller images are scaled up to it. */
    int cw, ch;
    if ((st = doubt_panel_compose(tiles, n, 0, &canvas, &cw, &ch, err)))
        goto done;
    doubt_png_text text[] = {{"doubt.panel", name}};
    if ((st = doubt_png_write_rgb8(out, canvas, cw, ch, text, 1, err)))
        goto done;
    if (thumb)
        st = doubt_png_write_rgb8(thumb, overlay, p.sw, p.sh, NULL, 0, err);
done:
    free(canvas);
    free(overlay);
    panel_images_free(&p);
    return st;
}

/* ---- the HTML gallery ---------------------------------------------------------------------- */

#define MAX_COLS 32

typedef struct {
    int ncols;
    char *col[MAX_COLS];   /* column names */
    char **name;           /* per summary row */
    double (*v)[MAX_COLS]; /* per summary row */
    int rows;
} summary_table;

static void summary_free(summary_table *t)
{
    for (int c = 0; c < t->ncols; c++)
        free(t->col[c]);
    for (int r = 0; r < t->rows; r++)
        free(t->name[r]);
    free(t->name);
    free(t->v);
}

static int column(summary_table *t, const char *key)
{
    for (int c = 0; c < t->ncols; c++)
        if (!strcmp(t->col[c], key))
            return c;
    if (t->ncols == MAX_COLS)
        return -1;
    char *s = malloc(strlen(key) + 1);
    if (!s)
        return -1;
    strcpy(s, key);
    t->col[t->ncols] = s;
    return t->ncols++;
}

/* One summary line: the means of its maps, or its top-level numbers when it has no "maps". */
static doubt_status summary_row(summary_table *t, const cJSON *o, const char *where,
                                doubt_error *err)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
    if (!cJSON_IsString(name))
        return doubt_fail(err, DOUBT_ERR_FORMAT, "%s: no \"name\" string", where);
    char **nn = realloc(t->name, (size_t)(t->rows + 1) * sizeof *nn);
    if (nn)
        t->name = nn;
    double(*nv)[MAX_COLS] = nn ? realloc(t->v, (size_t)(t->rows + 1) * sizeof *nv) : NULL;
    if (!nv)
        return doubt_fail(err, DOUBT_ERR_NOMEM, "out of memory at %s", where);
    t->v = nv;
    if (!(t->name[t->rows] = malloc(strlen(name->valuestring) + 1)))
        return doubt_fail(err, DOUBT_ERR_NOMEM, "out of memory at %s", where);
    strcpy(t->name[t->rows], name->valuestring);
    for (int c = 0; c < MAX_COLS; c++)
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
static doubt_status summary_read(const char *path, summary_table *t,
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

static void put_escaped(FILE *f, const char *s)
{
    for (; *s; s++)
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            fputc(*s, f);
        }
}

/* A path segment in a URL: unreserved bytes as they are, the rest percent-encoded. */
static void put_url(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~')
            fputc(c, f);
        else
            fprintf(f, "%%%02X", c);
    }
}

static const char page_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<title>doubt report</title>\n<style>\n"
    "body{font-family:sans-serif;margin:16px;background:#fafafa;color:#222}\n"
    "table{border-collapse:collapse;background:#fff}\n"
    "th{cursor:pointer;background:#e8e8e8;position:sticky;top:0;padding:6px 8px;"
    "font-size:13px;user-select:none;white-space:nowrap}\n"
    "th.nosort{cursor:default}\nth small{font-weight:normal;color:#555}\n"
    "th.asc::after{content:\" \\25B2\"}th.desc::after{content:\" \\25BC\"}\n"
    "td{padding:4px 8px;border-bottom:1px solid #ddd;text-align:right;"
    "font-variant-numeric:tabular-nums}\n"
    "td.name{text-align:left;font-family:monospace}\ntd.status{text-align:left}\n"
    "img.thumb{height:96px;image-rendering:pixelated;display:block}\n"
    "tr.failed td{background:#fde8e8}\n"
    "</style>\n</head>\n<body>\n";

/* Sorting: click a header; the page's #sort=KEY:asc|desc fragment sorts on load too (and is
 * updated on each click), so a sorted view can be bookmarked or screenshotted. */
static const char page_script[] =
    "<script>\n"
    "(function(){\n"
    "  var table=document.getElementById('gallery');\n"
    "  var heads=table.tHead.rows[0].cells;\n"
    "  function sortBy(col,asc){\n"
    "    var th=heads[col];\n"
    "    Array.prototype.forEach.call(heads,function(h){h.classList.remove('asc','desc');});\n"
    "    th.classList.add(asc?'asc':'desc');\n"
    "    var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows);\n"
    "    var num=th.dataset.type==='num';\n"
    "    rows.sort(function(a,b){\n"
    "      var x=a.cells[col].dataset.v,y=b.cells[col].dataset.v;\n"
    "      if(num){x=x===''?NaN:+x;y=y===''?NaN:+y;\n"
    "        if(isNaN(x)||isNaN(y))return isNaN(x)-isNaN(y);\n"
    "        return asc?x-y:y-x;}\n"
    "      return asc?x.localeCompare(y):y.localeCompare(x);\n"
    "    });\n"
    "    rows.forEach(function(r){body.appendChild(r);});\n"
    "    history.replaceState(null,'','#sort='+th.dataset.key+':'+(asc?'asc':'desc'));\n"
    "  }\n"
    "  Array.prototype.forEach.call(heads,function(th,col){\n"
    "    if(th.classList.contains('nosort'))return;\n"
    "    th.addEventListener('click',function(){sortBy(col,!th.classList.contains('asc'));});\n"
    "  });\n"
    "  var m=/^#sort=([^:]+):(asc|desc)$/.exec(location.hash);\n"
    "  if(m)Array.prototype.forEach.call(heads,function(th,col){\n"
    "    if(th.dataset.key===decodeURIComponent(m[1]))sortBy(col,m[2]==='asc');\n"
    "  });\n"
    "})();\n"
    "</script>\n";

/* Units of predict's maps, shown under the column names. */
static const char *map_units(const char *key)
{
    static const char *const units[][2] = {{"depth_mean", "m"},
                                           {"depth_epistemic", "m&sup2;"},
                                           {"depth_aleatoric", "m&sup2;"},
                                           {"depth_total", "m&sup2;"},
                                           {"seg_entropy", "nats"},
                                           {"seg_aleatoric", "nats"},
                                           {"seg_mutual_info", "nats"},
                                           {"seg_logit_var", "logit&sup2;"}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (!strcmp(key, units[i][0]))
            return units[i][1];
    return NULL;
}

typedef struct {
    char *error;       /* NULL when the panel was written */
    double mean_depth; /* from depth.png */
    int srow;          /* summary row, -1 when none */
} entry;

static void write_page(FILE *f, const char *dir, char **names, int n, const entry *en,
                       const summary_table *t, int use_summary)
{
    fputs(page_head, f);
    fputs("<h1>doubt report</h1>\n<p>", f);
    fprintf(f, "%d prediction%s from <code>", n, n == 1 ? "" : "s");
    put_escaped(f, dir);
    fputs("</code>. Click a column header to sort; click a thumbnail or name to open its "
          "panel (input, segmentation, depth and uncertainty heatmaps).",
          f);
    if (use_summary)
        fputs(" Statistics are per-image means of each map.", f);
    fputs("</p>\n<table id=\"gallery\">\n<thead><tr><th data-type=\"num\" data-key=\"index\">#"
          "</th><th class=\"nosort\">preview</th><th data-type=\"text\" data-key=\"name\">name"
          "</th>",
          f);
    int ncols = use_summary ? t->ncols : 1;
    for (int c = 0; c < ncols; c++) {
        const char *key = use_summary ? t->col[c] : "depth_mean";
        const char *units = map_units(key);
        fputs("<th data-type=\"num\" data-key=\"", f);
        put_escaped(f, key);
        fputs("\">", f);
        put_escaped(f, key);
        if (units)
            fprintf(f, "<br><small>%s</small>", units);
        fputs("</th>", f);
    }
    fputs("<th data-type=\"text\" data-key=\"status\">status</th></tr></thead>\n<tbody>\n", f);
    for (int i = 0; i < n; i++) {
        fprintf(f, "<tr%s><td data-v=\"%d\">%d</td><td>", en[i].error ? " class=\"failed\"" : "",
                i + 1, i + 1);
        if (!en[i].error) {
            fputs("<a href=\"panels/", f);
            put_url(f, names[i]);
            fputs(".panel.png\"><img class=\"thumb\" loading=\"lazy\" src=\"panels/", f);
            put_url(f, names[i]);
            fputs(".thumb.png\" alt=\"", f);
            put_escaped(f, names[i]);
            fputs("\"></a>", f);
        }
        fputs("</td><td class=\"name\" data-v=\"", f);
        put_escaped(f, names[i]);
        fputs("\">", f);
        if (!en[i].error) {
            fputs("<a href=\"panels/", f);
            put_url(f, names[i]);
            fputs(".panel.png\">", f);
        }
        put_escaped(f, names[i]);
        fputs(en[i].error ? "</td>" : "</a></td>", f);
        for (int c = 0; c < ncols; c++) {
            double v =
                use_summary ? (en[i].srow >= 0 ? t->v[en[i].srow][c] : NAN) : en[i].mean_depth;
            if (isfinite(v))
                fprintf(f, "<td data-v=\"%.9g\">%.4g</td>", v, v);
            else
                fputs("<td data-v=\"\">&ndash;</td>", f);
        }
        fputs("<td class=\"status\" data-v=\"", f);
        put_escaped(f, en[i].error ? "failed" : "ok");
        fputs("\">", f);
        put_escaped(f, en[i].error ? en[i].error : "ok");
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody>\n</table>\n", f);
    fputs(page_script, f);
    fputs("</body>\n</html>\n", f);
}

static char *dup_msg(const char *s)
{
    char *d = malloc(strlen(s) + 1);
    if (d)
        strcpy(d, s);
    return d;
}

doubt_status doubt_inspect_html(const char *dir, const char *html, const doubt_inspect_opts *o,
                                const char *summary, void (*on_error)(void *user, const char *msg),
                                void *user, int *failed, doubt_error *err)
{
    *failed = 0;
    char **names = NULL;
    int n = 0;
    summary_table t;
    memset(&t, 0, sizeof t);
    entry *en = NULL;
    doubt_status st = doubt_inspect_list(dir, &names, &n, err);
    if (st)
        return st;
    if (summary && (st = summary_read(summary, &t, on_error, user, failed, err)))
        goto done;
    char panels[DOUBT_PATH_MAX], parent[DOUBT_PATH_MAX];
    const char *slash = strrchr(html, '/');
    snprintf(parent, sizeof parent, "%.*s", slash ? (int)(slash - html) : 1, slash ? html : ".");
    if ((st = doubt_path_join(panels, parent[0] ? parent : "/", "panels", err)) ||
        (st = doubt_mkdir_p(panels, err)))
        goto done;
    if (!(en = calloc((size_t)n, sizeof *en))) {
        st = doubt_fail(err, DOUBT_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        char out[DOUBT_PATH_MAX], thumb[DOUBT_PATH_MAX];
        doubt_error e = {{0}};
        en[i].srow = -1;
        en[i].mean_depth = NAN; /* until depth.png is read */
        for (int r = 0; r < t.rows; r++)
            if (!strcmp(t.name[r], names[i]))
                en[i].srow = r; /* the last line wins, as after a rerun */
        doubt_status ps = file_of(out, panels, names[i], ".panel.png", &e);
        if (!ps)
            ps = file_of(thumb, panels, names[i], ".thumb.png", &e);
        if (!ps)
            ps = doubt_inspect_panel(dir, names[i], o, out, thumb, &en[i].mean_depth, &e);
        if (ps == DOUBT_ERR_NOMEM) {
            st = doubt_fail(err, ps, "%s", e.msg);
            goto done;
        }
        if (ps) {
            (*failed)++;
            if (!(en[i].error = dup_msg(e.msg))) {
                st = doubt_fail(err, DOUBT_ERR_NOMEM, "out of memory");
                goto done;
            }
            if (on_error)
                on_error(user, e.msg);
        }
    }
    doubt_atomic_file af;
    if ((st = doubt_atomic_open(&af, html, err)))
        goto done;
    write_page(af.f, dir, names, n, en, &t, summary != NULL);
    if (ferror(af.f)) {
        doubt_atomic_abort(&af);
        st = doubt_fail(err, DOUBT_ERR_IO, "%s: write failed", html);
    } else
        st = doubt_atomic_commit(&af, err);
done:
    for (int i = 0; en && i < n; i++)
        free(en[i].error);
    free(en);
    summary_free(&t);
    doubt_inspect_list_free(names, n);
    return st;
}
