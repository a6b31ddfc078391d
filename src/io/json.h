/* Numbers for doubt's JSON outputs (predict's summary lines, eval's report, the HTML report's
 * manifest): JSON has no spelling for NaN or infinity, so a figure that is undefined (no
 * pixel to average, a metric without ground truth) becomes null, which every reader takes.
 */
#ifndef DOUBT_IO_JSON_H
#define DOUBT_IO_JSON_H

#include <cjson/cJSON.h>

/* v as a JSON number when finite, else JSON null; NULL only when out of memory. */
cJSON *doubt_json_number(double v);
/* o[key] = doubt_json_number(v). */
void doubt_json_add_number(cJSON *o, const char *key, double v);
/* o[key] = strings[0] when n is 1, else the array of the n strings: how the outputs name an
 * ensemble's weights, so that a one-file run reads as it always did. */
void doubt_json_add_one_or_many(cJSON *o, const char *key, const char *const *strings, int n);

#endif
