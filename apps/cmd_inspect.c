/* doubt inspect PREDDIR [PREDDIR2]: panels and the HTML report of `doubt predict` output
 * folders (src/viz/inspect.h and src/viz/report.h do the work). */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "viz/inspect.h"
#include "viz/report.h"

static void usage(FILE *to)
{
    fprintf(to, "usage: doubt inspect PREDDIR [PREDDIR2] --html FILE [--images DIR]\n"
                "                     [--summary FILE.jsonl]... [--eval FILE.json]\n"
                "                     [--eval-plots DIR]\n"
                "       doubt inspect PREDDIR --panel NAME -o FILE [--images DIR]\n"
                "\n"
                "Looks at what 'doubt predict' wrote to PREDDIR (with --npy for the read-out).\n"
                "\n"
                "  --html FILE           a report that opens from file:// with no network: a\n"
                "                        sortable table of per-image statistics with histograms\n"
                "                        and a 'check these first' list, and a viewer per image\n"
                "                        (any map over the photo, values under the pointer);\n"
                "                        its files go to FILE's name without .html + '_files/'\n"
                "  PREDDIR2              compare two folders of the same images side by side,\n"
                "                        with the difference B - A of any map\n"
                "  --panel NAME -o FILE  one PNG: input, segmentation overlay, depth and the\n"
                "                        uncertainty heatmaps side by side, each titled\n"
                "  --images DIR          the input photos (NAME.png/.jpg/...)\n"
                "  --summary FILE.jsonl  predict's JSON lines, for the statistics (the first for\n"
                "                        PREDDIR, a second for PREDDIR2); without it the means\n"
                "                        are computed from the maps\n"
                "  --eval FILE.json      'doubt eval --json' output: headline metrics and the\n"
                "                        reliability diagram in the report\n"
                "  --eval-plots DIR      'doubt eval --plots' folder, shown in the report\n"
                "  --help, --version\n"
                "\n"
                "exit status: 0 ok, 1 a missing or unreadable file (the other images are still\n"
                "processed), 2 bad usage\n");
}

static void report(void *user, const char *msg)
{
    (void)user;
    fprintf(stderr, "doubt inspect: %s\n", msg);
}

int doubt_cmd_inspect(int argc, char **argv)
{
    const char *panel = NULL, *out = NULL, *html = NULL, *images = NULL;
    doubt_report_opts r = doubt_report_defaults();
    r.ndirs = 0;
    int nsummaries = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return DOUBT_EXIT_OK;
        }
        if (!strcmp(a, "--version")) {
            printf("doubt %s\n", DOUBT_VERSION);
            return DOUBT_EXIT_OK;
        }
        const char *summary = NULL;
        const char **slot = !strcmp(a, "--panel")        ? &panel
                            : !strcmp(a, "-o")           ? &out
                            : !strcmp(a, "--html")       ? &html
                            : !strcmp(a, "--summary")    ? &summary
                            : !strcmp(a, "--images")     ? &images
                            : !strcmp(a, "--eval")       ? &r.eval_json
                            : !strcmp(a, "--eval-plots") ? &r.eval_plots
                                                         : NULL;
        if (slot) {
            if (i + 1 >= argc) {
                fprintf(stderr, "doubt inspect: %s needs a value\n", a);
                return DOUBT_EXIT_USAGE;
            }
            *slot = argv[++i];
            if (summary) {
                if (nsummaries == 2)
                    return doubt_usage_errorf("inspect", "at most two --summary files");
                r.summaries[nsummaries++] = summary;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "doubt inspect: unknown option '%s'\n", a);
            usage(stderr);
            return DOUBT_EXIT_USAGE;
        } else if (r.ndirs == 2)
            return doubt_usage_errorf("inspect", "at most two PREDDIRs ('%s', '%s' and '%s')",
                                      r.dirs[0], r.dirs[1], a);
        else
            r.dirs[r.ndirs++] = a;
    }
    if (!r.ndirs || (!panel && !html) || (!panel != !out)) {
        fprintf(stderr, "doubt inspect: needs PREDDIR and --html FILE and/or --panel NAME -o "
                        "FILE\n");
        usage(stderr);
        return DOUBT_EXIT_USAGE;
    }
    if (panel && r.ndirs == 2)
        return doubt_usage_errorf("inspect", "--panel takes one PREDDIR");
    if (nsummaries > r.ndirs)
        return doubt_usage_errorf("inspect", "one --summary per PREDDIR");
    if ((r.eval_json || r.eval_plots) && !html)
        return doubt_usage_errorf("inspect", "--eval and --eval-plots need --html");
    int status = DOUBT_EXIT_OK;
    doubt_error err = {{0}};
    doubt_inspect_opts o = doubt_inspect_defaults();
    o.images = images;
    if (panel && doubt_inspect_panel(r.dirs[0], panel, &o, out, NULL, NULL, &err)) {
        fprintf(stderr, "doubt inspect: %s\n", err.msg);
        status = DOUBT_EXIT_FAILURE;
    }
    if (html) {
        int failed = 0;
        r.images = images;
        if (doubt_report_write(&r, html, report, NULL, &failed, &err)) {
            fprintf(stderr, "doubt inspect: %s\n", err.msg);
            status = DOUBT_EXIT_FAILURE;
        } else {
            if (failed) {
                fprintf(stderr, "doubt inspect: %d problem%s (listed in the page)\n", failed,
                        failed == 1 ? "" : "s");
                status = DOUBT_EXIT_FAILURE;
            }
            fprintf(stderr, "doubt inspect: wrote %s\n", html);
        }
    }
    return status;
}
