/* Writes the seed corpora of tests/fuzz/corpus/{image,png,npy,netdesc,dataset}: small valid
 * files of every layout each reader accepts (safetensors seeds are copies of the golden
 * files). Run from the repository root after tools/setup.sh:
 *   cc -std=c11 -D_POSIX_C_SOURCE=200809L -Isrc $(pkg-config --cflags stb libpng libcjson) \
 *      tests/fuzz/make_seeds.c build/libdoubt.a $(pkg-config --libs stb libpng libcjson) \
 *      -lm -fopenmp -o /tmp/make_seeds && /tmp/make_seeds tests/fuzz/corpus
 */
#include <stb_image_write.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/fsutil.h"
#include "io/npy.h"
#include "io/png.h"

static const char *root;

static const char *at(const char *target, const char *name)
{
    static char path[512];
    char dir[400];
    doubt_error err;
    snprintf(dir, sizeof dir, "%s/%s", root, target);
    if (doubt_mkdir_p(dir, &err))
        exit(1);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static void text(const char *target, const char *name, const char *s)
{
    FILE *f = fopen(at(target, name), "wb");
    if (!f || fwrite(s, 1, strlen(s), f) != strlen(s) || fclose(f))
        exit(1);
}

typedef struct {
    unsigned char bytes[8192];
    size_t n;
} mem;

static void into(void *ctx, void *data, int size)
{
    mem *m = ctx;
    if (m->n + (size_t)size <= sizeof m->bytes) {
        memcpy(m->bytes + m->n, data, (size_t)size);
        m->n += (size_t)size;
    }
}

/* A JPEG with an EXIF APP1 saying orientation 6 (big-endian TIFF), as phones write. */
static void exif_jpeg(const char *target, const uint8_t *rgb, int w, int h)
{
    mem m = {{0}, 0};
    stbi_write_jpg_to_func(into, &m, w, h, 3, rgb, 90);
    static const unsigned char app1[36] = {
        0xff, 0xe1, 0, 34, 'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0, 42, 0, 0, 0, 8,
        0,    1,    1, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0};
    FILE *f = fopen(at(target, "exif6.jpg"), "wb");
    if (!f || fwrite(m.bytes, 1, 2, f) != 2 || fwrite(app1, 1, 36, f) != 36 ||
        fwrite(m.bytes + 2, 1, m.n - 2, f) != m.n - 2 || fclose(f))
        exit(1);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    root = argv[1];
    doubt_error err;
    enum { W = 12, H = 8 };
    uint8_t rgb[W * H * 3], rgba[W * H * 4], gray[W * H], index[W * H];
    uint16_t depth[W * H];
    for (int p = 0; p < W * H; p++) {
        for (int c = 0; c < 3; c++)
            rgb[3 * p + c] = (uint8_t)(p * (c + 3) * 7);
        for (int c = 0; c < 4; c++)
            rgba[4 * p + c] = (uint8_t)(p * (c + 2) * 5);
        gray[p] = (uint8_t)(p % 4 == 3 ? 255 : p % 4);
        index[p] = (uint8_t)(p % 4);
        depth[p] = (uint16_t)(p * 613);
    }
    const uint8_t palette[4][3] = {{0, 0, 0}, {255, 0, 0}, {0, 255, 0}, {0, 0, 255}};
    const doubt_png_text t[] = {{"doubt.map", "seed"}};
    int bad = doubt_png_write_rgb8(at("image", "rgb.png"), rgb, W, H, t, 1, &err) ||
              doubt_png_write_gray16(at("image", "gray16.png"), depth, W, H, NULL, 0, &err) ||
              doubt_png_write_palette(at("image", "palette.png"), index, W, H, palette, 4, NULL,
                                      0, &err) ||
              doubt_png_write_gray8(at("png", "labels.png"), gray, W, H, NULL, 0, &err) ||
              doubt_png_write_gray16(at("png", "depth.png"), depth, W, H, t, 1, &err) ||
              doubt_png_write_palette(at("png", "palette.png"), index, W, H, palette, 4, NULL, 0,
                                      &err);
    bad |= !stbi_write_png(at("image", "rgba.png"), W, H, 4, rgba, W * 4) ||
           !stbi_write_png(at("image", "gray_alpha.png"), W, H, 2, rgba, W * 2) ||
           !stbi_write_jpg(at("image", "rgb.jpg"), W, H, 3, rgb, 80) ||
           !stbi_write_jpg(at("image", "gray.jpg"), W, H, 1, gray, 80) ||
           !stbi_write_bmp(at("image", "rgb.bmp"), W, H, 3, rgb) ||
           !stbi_write_tga(at("image", "rgba.tga"), W, H, 4, rgba);
    exif_jpeg("image", rgb, W, H);
    float v[2 * 3 * 4];
    for (int i = 0; i < 24; i++)
        v[i] = (float)i * 0.25f - 1.0f;
    const int64_t s1[1] = {24}, s3[3] = {2, 3, 4};
    bad |= doubt_npy_write_f32(at("npy", "vector.npy"), v, 1, s1, &err) ||
           doubt_npy_write_f32(at("npy", "cube.npy"), v, 3, s3, &err) ||
           doubt_npy_write_f32(at("npy", "scalar.npy"), v, 0, NULL, &err);
    text("netdesc", "unet.json",
         "{\"arch\":\"unet\",\"in_channels\":3,\"classes\":8,\"widths\":[32,64,128,256,256],"
         "\"dropout\":0.5}");
    text("netdesc", "small_log.json",
         "{\"arch\":\"unet\",\"in_channels\":3,\"classes\":8,\"widths\":[16,32,64,128,128],"
         "\"dropout\":0.5,\"no_depth_classes\":[0],\"depth\":\"log\"}");
    text("netdesc", "tiny.json",
         "{\"arch\":\"unet\",\"in_channels\":1,\"classes\":3,\"widths\":[4],\"dropout\":0,"
         "\"depth\":\"inverse\"}");
    text("dataset", "classes.json", "{\"classes\": 3, \"depth_scale\": 256}");
    text("dataset", "names.json",
         "{\"classes\": [\"sky\", \"floor\", \"wall\"], \"depth_scale\": 1000, "
         "\"no_depth_classes\": [0], \"palette\": [[0,0,0],[10,20,30],[200,100,50]]}");
    text("dataset", "empty.json", "{}");
    if (bad)
        fprintf(stderr, "make_seeds: %s\n", err.msg);
    return bad ? 1 : 0;
}
