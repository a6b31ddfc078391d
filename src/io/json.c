#include "json.h"

#include <math.h>

cJSON *doubt_json_number(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

void doubt_json_add_number(cJSON *o, const char *key, double v)
{
    cJSON_AddItemToObject(o, key, doubt_json_number(v));
}
