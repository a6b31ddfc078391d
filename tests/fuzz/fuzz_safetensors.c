/* The safetensors reader and the network check (model/safetensors.c, model/netdesc.c). */
#include "fuzz_input.h"
#include "model/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("input.safetensors", data, size);
    doubt_error err;
    doubt_safetensors *f = NULL;
    if (doubt_safetensors_read(path, &f, &err) == DOUBT_OK) {
        if (f->has_network) {
            doubt_safetensors_check(f, NULL, false, &err);
            doubt_safetensors_check(f, NULL, true, &err);
        }
        doubt_safetensors_find(f, "head.weight");
        doubt_safetensors_meta(f, "step");
        doubt_safetensors_destroy(f);
    }
    return 0;
}
