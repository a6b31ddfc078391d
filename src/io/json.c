#include "json.h"

#include <math.h>

cJSON *doubt_json_number(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

void doubt_json_add_number(cJSON *o, const char *key, double v)
{
    /* as cJSON_AddNumberToObject does: a number no object took (o NULL when out of memory)
     * is not leaked */
    cJSON *x = doubt_json_number(v);
    if (!cJSON_AddItemToObject(o, key, x))
        cJSON_Delete(x);
}

void doubt_json_add_one_or_many(cJSON *o, const char *key, const char *const *strings, int n)
{
    cJSON *x = n == 1 ? cJSON_CreateString(strings[0]) : cJSON_CreateStringArray(strings, n);
    if (!cJSON_AddItemToObject(o, key, x))
        cJSON_Delete(x);
}
