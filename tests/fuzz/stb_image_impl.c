/* stb_image compiled into the fuzz targets from Debian's header (the source of the libstb
 * the real build links), so that libFuzzer sees coverage inside its decoders instead of
 * feeding an uninstrumented library blind. */
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
