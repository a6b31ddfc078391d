/* The network description JSON (model/netdesc.c), given as bytes that need not end in NUL:
 * parse, then everything a parsed description feeds (JSON round trip, parameter list). */
#include <string.h>

#include "model/netdesc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    doubt_error err;
    doubt_netdesc d, again;
    if (doubt_netdesc_parse((const char *)data, size, &d, &err) != DOUBT_OK)
        return 0;
    char json[DOUBT_NETDESC_JSON_MAX];
    if (doubt_netdesc_to_json(&d, json, sizeof json, &err) == DOUBT_OK &&
        (doubt_netdesc_parse(json, strlen(json), &again, &err) != DOUBT_OK ||
         memcmp(&d, &again, sizeof d)))
        __builtin_trap(); /* a description must survive its own JSON */
    doubt_param_info p[DOUBT_NETDESC_MAX_PARAMS];
    doubt_netdesc_params(&d, p, DOUBT_NETDESC_MAX_PARAMS);
    return 0;
}
