#include "report_page.h"

#include <stdio.h>
#include <stdlib.h>

#include "io/fsutil.h"

doubt_status doubt_report_page_write(const char *path, const cJSON *manifest, doubt_error *err)
{
    char *json = cJSON_PrintUnformatted(manifest);
    if (!json)
        return doubt_fail(err, DOUBT_ERR_NOMEM, "%s: out of memory for the manifest", path);
    doubt_atomic_file af;
    doubt_status st = doubt_atomic_open(&af, path, err);
    if (st) {
        cJSON_free(json);
        return st;
    }
    FILE *f = af.f;
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"generator\" content=\"doubt " DOUBT_VERSION "\">\n"
          "<title>doubt report</title>\n<style>\n",
          f);
    fputs(doubt_report_css, f);
    fputs("</style>\n</head>\n<body>\n<div id=\"app\"><noscript>This report needs JavaScript."
          "</noscript></div>\n<script>\nvar DOUBT = ",
          f);
    for (const char *c = json; *c; c++)
        if (*c == '<')
            fputs("\\u003c", f);
        else
            fputc(*c, f);
    fputs(";\n</script>\n<script>\n", f);
    fputs(doubt_report_js, f);
    fputs("</script>\n</body>\n</html>\n", f);
    cJSON_free(json);
    if (ferror(f)) {
        doubt_atomic_abort(&af);
        return doubt_fail(err, DOUBT_ERR_IO, "%s: write failed", path);
    }
    return doubt_atomic_commit(&af, err);
}
