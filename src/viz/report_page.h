/* The report's one HTML page: its styles and script (src/viz/report_assets/, compiled in by
 * tools/embed_assets.py) and the manifest report.c builds, inline, so the page needs no
 * other file to start; images and float data are loaded from STEM_files/ as they are shown.
 */
#ifndef DOUBT_VIZ_REPORT_PAGE_H
#define DOUBT_VIZ_REPORT_PAGE_H

#include <cjson/cJSON.h>

#include "core/status.h"

/* Generated from src/viz/report_assets/report.{css,js}. */
extern const char doubt_report_css[];
extern const char doubt_report_js[];

/* Writes the page atomically; the manifest becomes `var DOUBT = {...};` with every '<' as
 * \u003c, so no name can end the script element. */
doubt_status doubt_report_page_write(const char *path, const cJSON *manifest, doubt_error *err);

#endif
