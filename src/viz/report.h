/* The HTML report of one `doubt predict` folder, or of two folders of the same images side by
 * side: a sortable table with histograms and a "check these first" list, an image viewer
 * with any map over the photo and the float values under the pointer, and, given `doubt eval`
 * output, its headline metrics and plots.
 *
 *     doubt_report_opts o = doubt_report_defaults();
 *     o.dirs[0] = "pred"; o.ndirs = 1; o.images = "photos";
 *     int failed;
 *     st = doubt_report_write(&o, "report/index.html", on_error, user, &failed, &err);
 *
 * Output: HTML (one page: styles, script and the manifest of every image inline) and beside
 * it the folder STEM_files/ (STEM = the page's name without ".html") with everything the
 * page loads, so the two move together and open from file:// with no network:
 *   img/photo/I.EXT        the input photo, copied (png, jpg, jpeg, bmp) or re-encoded as PNG
 *   img/S/I.thumb.png      photo and segmentation blended, at most 96 px tall
 *   img/S/I.MAP.png        predict's heatmaps and NAME.seg.png, copied
 *   img/S/I.nodepth.png    the pixels without depth, hatched (report_overlay.h)
 *   img/1/I.diff.MAP.png   comparing: B - A of each map (and where the classes differ)
 *   data/S/I_T.js          tile T of the float maps (report_data.h), loaded when the viewer
 *                          needs it
 * for image index I (in name order) and folder S (0, 1). Per folder a NAME needs NAME.seg.png
 * (palette) and NAME.depth.png; heatmaps and NAME.MAP.npy (predict --npy) are each optional:
 * what is missing is not shown. Depth comes from depth_mean.npy, else depth.png / 256. The
 * fixed range of each heatmap is read from its doubt.range tEXt chunk. An image that fails
 * (missing or unreadable file, sizes that differ) is reported through on_error (may be NULL),
 * listed as failed and counted in *failed; the others are still written.
 */
#ifndef DOUBT_VIZ_REPORT_H
#define DOUBT_VIZ_REPORT_H

#include "core/status.h"

typedef struct {
    const char *dirs[2];      /* prediction folders */
    int ndirs;                /* 1, or 2 to compare */
    const char *summaries[2]; /* predict's JSONL per folder, or NULL: means computed here */
    const char *images;       /* input photos, or NULL (the segmentation colours instead) */
    const char *eval_json;    /* `doubt eval --json` output, or NULL */
    const char *eval_plots;   /* `doubt eval --plots` folder, or NULL */
} doubt_report_opts;

doubt_report_opts doubt_report_defaults(void);

doubt_status doubt_report_write(const doubt_report_opts *o, const char *html,
                                void (*on_error)(void *user, const char *msg), void *user,
                                int *failed, doubt_error *err);

#endif
