/* doubt inspect PREDDIR: panels and an HTML gallery of a `doubt predict` output folder
 * (src/io/inspect.h does the work). */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "io/inspect.h"

static void usage(FILE *to)
{
    fprintf(to, "usage: doubt inspect PREDDIR [--images DIR] [--summary FILE.jsonl] [--html FILE]\n"
                "                     [--panel NAME -o FILE]\n"
                "\n"
                "Looks at what 'doubt predict' wrote to PREDDIR.\n"
                "\n"
                "  --panel NAME -o FILE  one PNG: input, segmentation overlay, depth and the\n"
                "                        uncertainty heatmaps side by side, each titled\n"
                "  --html FILE           a static gallery page of every prediction, sortable by\n"
                "                        each statistic; panels and thumbnails are written to\n"
                "                        'panels/' beside FILE\n"
                "  --images DIR          the input photos (NAME.png/.jpg/...), for the overlay\n"
                "  --summary FILE.jsonl  predict's JSON lines, for the statistics columns\n"
                "                        (without it: the mean depth from NAME.depth.png)\n"
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
    const char *dir = NULL, *panel = NULL, *out = NULL, *html = NULL, *summary = NULL;
    doubt_inspect_opts o = doubt_inspect_defaults();
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
        const char **slot = !strcmp(a, "--panel")     ? &panel
                            : !strcmp(a, "-o")        ? &out
                            : !strcmp(a, "--html")    ? &html
                            : !strcmp(a, "--summary") ? &summary
                            : !strcmp(a, "--images")  ? &o.images
                                                      : NULL;
        if (slot) {
            if (i + 1 >= argc) {
                fprintf(stderr, "doubt inspect: %s needs a value\n", a);
                return DOUBT_EXIT_USAGE;
            }
            *slot = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "doubt inspect: unknown option '%s'\n", a);
            usage(stderr);
            return DOUBT_EXIT_USAGE;
        } else if (dir) {
            fprintf(stderr, "doubt inspect: one PREDDIR only ('%s' and '%s')\n", dir, a);
            return DOUBT_EXIT_USAGE;
        } else
            dir = a;
    }
    if (!dir || (!panel && !html) || (!panel != !out)) {
        fprintf(stderr, "doubt inspect: needs PREDDIR and --html FILE and/or --panel NAME -o "
                        "FILE\n");
        usage(stderr);
        return DOUBT_EXIT_USAGE;
    }
    int status = DOUBT_EXIT_OK;
    doubt_error err = {{0}};
    if (panel && doubt_inspect_panel(dir, panel, &o, out, NULL, NULL, &err)) {
        fprintf(stderr, "doubt inspect: %s\n", err.msg);
        status = DOUBT_EXIT_FAILURE;
    }
    if (html) {
        int failed = 0;
        if (doubt_inspect_html(dir, html, &o, summary, report, NULL, &failed, &err)) {
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
