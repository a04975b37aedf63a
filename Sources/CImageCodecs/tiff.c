// TIFF through libtiff, to the pixels of Pillow's `Image.open(p).convert("RGB")` for the layouts
// Pillow reads through libtiff and this shim decodes: 8-bit greyscale (min-is-black or -white, with
// or without an extra alpha sample, dropped), 8-bit RGB (with or without unassociated alpha,
// dropped), 1-bit bilevel (0/255), 4- and 8-bit palettes (Pillow keeps each 16-bit colormap
// entry's high byte), in strips or tiles, any compression libtiff decodes. The first image of the
// file is read; the Orientation tag is ignored, as Pillow's open ignores it.
// Refused as unsupported (rather than approximated): 16-bit and float samples, separate planes,
// YCbCr/CMYK/Lab, associated (premultiplied) alpha.
//
// The file is read from memory (no mapping), libtiff's messages are caught per handle (libtiff
// 4.5's TIFFOpenOptions, so nothing is printed and no global handler is touched), and libtiff's
// own allocations are capped.
#include "codecs.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tiffio.h>

struct bv_tiff {
    const uint8_t *data;
    size_t size;
    uint64_t position;
    TIFF *tif;
    uint32_t width, height;
    uint16_t bits, samples, photometric;
    uint16_t palette[3][256];
    int palette_size;
    char message[240];
};

static tsize_t mem_read(thandle_t h, tdata_t buf, tsize_t n) {
    struct bv_tiff *d = (struct bv_tiff *)h;
    if (n < 0 || d->position >= d->size) return 0;
    size_t left = d->size - (size_t)d->position;
    size_t count = (size_t)n < left ? (size_t)n : left;
    memcpy(buf, d->data + d->position, count);
    d->position += count;
    return (tsize_t)count;
}

static tsize_t mem_write(thandle_t h, tdata_t buf, tsize_t n) {
    (void)h; (void)buf; (void)n;
    return 0;
}

static toff_t mem_seek(thandle_t h, toff_t off, int whence) {
    struct bv_tiff *d = (struct bv_tiff *)h;
    uint64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? d->position : d->size;
    if (off > UINT64_MAX - base) return (toff_t)-1;
    d->position = base + off;
    return d->position;
}

static int mem_close(thandle_t h) { (void)h; return 0; }
static toff_t mem_size(thandle_t h) { return ((struct bv_tiff *)h)->size; }
static int mem_map(thandle_t h, tdata_t *base, toff_t *size) { (void)h; (void)base; (void)size; return 0; }
static void mem_unmap(thandle_t h, tdata_t base, toff_t size) { (void)h; (void)base; (void)size; }

// The first error of a handle is kept (later ones are consequences); warnings are ignored.
static int on_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif; (void)module;
    struct bv_tiff *d = (struct bv_tiff *)user;
    if (d->message[0] == 0) vsnprintf(d->message, sizeof d->message, fmt, ap);
    return 1;
}

static int on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif; (void)user; (void)module; (void)fmt; (void)ap;
    return 1;
}

static bv_status fail(bv_info *info, bv_status status, const char *message) {
    snprintf(info->message, sizeof info->message, "%s", message);
    return status;
}

bv_status bv_tiff_open(const uint8_t *data, size_t size, uint64_t max_pixels, bv_tiff **out, bv_info *info) {
    memset(info, 0, sizeof *info);
    *out = NULL;
    struct bv_tiff *d = calloc(1, sizeof *d);
    if (!d) return fail(info, BV_NO_MEMORY, "out of memory");
    d->data = data;
    d->size = size;
    TIFFOpenOptions *options = TIFFOpenOptionsAlloc();
    if (!options) { free(d); return fail(info, BV_NO_MEMORY, "out of memory"); }
    TIFFOpenOptionsSetErrorHandlerExtR(options, on_error, d);
    TIFFOpenOptionsSetWarningHandlerExtR(options, on_warning, d);
    TIFFOpenOptionsSetMaxSingleMemAlloc(options, (tmsize_t)1 << 30);
    d->tif = TIFFClientOpenExt("image", "rm", (thandle_t)d, mem_read, mem_write, mem_seek, mem_close, mem_size,
                               mem_map, mem_unmap, options);
    TIFFOpenOptionsFree(options);
    *out = d;
    if (!d->tif) {
        return fail(info, size < 16 ? BV_TRUNCATED : BV_CORRUPT, d->message[0] ? d->message : "not a readable TIFF file");
    }
    uint32_t w = 0, h = 0;
    uint16_t planar = PLANARCONFIG_CONTIG, format = SAMPLEFORMAT_UINT;
    if (!TIFFGetField(d->tif, TIFFTAG_IMAGEWIDTH, &w) || !TIFFGetField(d->tif, TIFFTAG_IMAGELENGTH, &h) || w == 0 || h == 0) {
        return fail(info, BV_CORRUPT, "no image size");
    }
    info->source_width = info->width = (int)(w > INT32_MAX ? INT32_MAX : w);
    info->source_height = info->height = (int)(h > INT32_MAX ? INT32_MAX : h);
    if (w > INT32_MAX || h > INT32_MAX || (uint64_t)w * h > max_pixels) return fail(info, BV_TOO_LARGE, "too many pixels");
    d->width = w;
    d->height = h;
    TIFFGetFieldDefaulted(d->tif, TIFFTAG_BITSPERSAMPLE, &d->bits);
    TIFFGetFieldDefaulted(d->tif, TIFFTAG_SAMPLESPERPIXEL, &d->samples);
    TIFFGetFieldDefaulted(d->tif, TIFFTAG_PLANARCONFIG, &planar);
    TIFFGetFieldDefaulted(d->tif, TIFFTAG_SAMPLEFORMAT, &format);
    if (!TIFFGetField(d->tif, TIFFTAG_PHOTOMETRIC, &d->photometric)) return fail(info, BV_CORRUPT, "no photometric interpretation");
    info->bit_depth = d->bits;
    info->components = d->samples;
    info->progressive = TIFFIsTiled(d->tif);
    if (planar != PLANARCONFIG_CONTIG && d->samples > 1) return fail(info, BV_UNSUPPORTED, "separate colour planes");
    if (format != SAMPLEFORMAT_UINT) return fail(info, BV_UNSUPPORTED, "signed or floating-point samples");
    uint16_t extra_count = 0, *extra = NULL;
    TIFFGetField(d->tif, TIFFTAG_EXTRASAMPLES, &extra_count, &extra);
    if (extra_count > 0 && extra && extra[0] == EXTRASAMPLE_ASSOCALPHA) return fail(info, BV_UNSUPPORTED, "premultiplied alpha");
    switch (d->photometric) {
    case PHOTOMETRIC_MINISBLACK:
    case PHOTOMETRIC_MINISWHITE:
        if (!((d->bits == 8 && (d->samples == 1 || d->samples == 2)) || (d->bits == 1 && d->samples == 1))) {
            return fail(info, BV_UNSUPPORTED, "greyscale other than 1 or 8 bits");
        }
        break;
    case PHOTOMETRIC_RGB:
        if (d->bits != 8 || (d->samples != 3 && d->samples != 4)) return fail(info, BV_UNSUPPORTED, "RGB other than 8 bits");
        break;
    case PHOTOMETRIC_PALETTE: {
        if (d->samples != 1 || (d->bits != 8 && d->bits != 4)) return fail(info, BV_UNSUPPORTED, "palette other than 4 or 8 bits");
        uint16_t *r = NULL, *g = NULL, *b = NULL;
        if (!TIFFGetField(d->tif, TIFFTAG_COLORMAP, &r, &g, &b) || !r || !g || !b) return fail(info, BV_CORRUPT, "palette image without a colormap");
        d->palette_size = 1 << d->bits;
        memcpy(d->palette[0], r, sizeof(uint16_t) * d->palette_size);
        memcpy(d->palette[1], g, sizeof(uint16_t) * d->palette_size);
        memcpy(d->palette[2], b, sizeof(uint16_t) * d->palette_size);
        break;
    }
    default:
        return fail(info, BV_UNSUPPORTED, "colour space other than greyscale, RGB or palette (YCbCr, CMYK, Lab…)");
    }
    return BV_OK;
}

// One row of samples to RGB.
static void convert_row(const struct bv_tiff *d, const uint8_t *in, uint8_t *out) {
    uint32_t w = d->width;
    switch (d->photometric) {
    case PHOTOMETRIC_MINISBLACK:
    case PHOTOMETRIC_MINISWHITE: {
        uint8_t invert = d->photometric == PHOTOMETRIC_MINISWHITE ? 0xFF : 0;
        for (uint32_t x = 0; x < w; x++) {
            uint8_t v = d->bits == 1 ? (((in[x >> 3] >> (7 - (x & 7))) & 1) ? 255 : 0) : in[x * d->samples];
            v ^= invert;
            out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = v;
        }
        break;
    }
    case PHOTOMETRIC_RGB:
        for (uint32_t x = 0; x < w; x++) memcpy(out + 3 * x, in + (size_t)x * d->samples, 3);
        break;
    case PHOTOMETRIC_PALETTE:
        for (uint32_t x = 0; x < w; x++) {
            int i = d->bits == 8 ? in[x] : (in[x >> 1] >> ((x & 1) ? 0 : 4)) & 15;
            for (int c = 0; c < 3; c++) out[3 * x + c] = (uint8_t)(d->palette[c][i] >> 8);
        }
        break;
    }
}

bv_status bv_tiff_read_rgb(bv_tiff *d, uint8_t *rgb, bv_info *info) {
    TIFF *tif = d->tif;
    size_t row_bytes = ((size_t)d->width * d->bits * d->samples + 7) / 8;
    if (TIFFIsTiled(tif)) {
        uint32_t tw = 0, th = 0;
        if (!TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw) || !TIFFGetField(tif, TIFFTAG_TILELENGTH, &th) || tw == 0 || th == 0) {
            return fail(info, BV_CORRUPT, "tiles without a size");
        }
        tmsize_t tile_size = TIFFTileSize(tif);
        size_t tile_row = ((size_t)tw * d->bits * d->samples + 7) / 8;
        if (tile_size <= 0 || (size_t)tile_size < tile_row * th) return fail(info, BV_CORRUPT, d->message[0] ? d->message : "bad tile size");
        if ((d->bits * d->samples) % 8 != 0) return fail(info, BV_UNSUPPORTED, "tiled bilevel or 4-bit image");
        size_t bpp = (size_t)d->bits * d->samples / 8;
        uint8_t *tile = malloc((size_t)tile_size);
        uint8_t *band = malloc(row_bytes * th);  // one band of tile rows, assembled across
        if (!tile || !band) { free(tile); free(band); return fail(info, BV_NO_MEMORY, "out of memory"); }
        for (uint32_t ty = 0; ty < d->height; ty += th) {
            uint32_t rows = d->height - ty < th ? d->height - ty : th;
            for (uint32_t tx = 0; tx < d->width; tx += tw) {
                if (TIFFReadEncodedTile(tif, TIFFComputeTile(tif, tx, ty, 0, 0), tile, tile_size) < 0) {
                    free(tile); free(band);
                    return fail(info, BV_CORRUPT, d->message[0] ? d->message : "a tile cannot be decoded");
                }
                size_t count = (size_t)(d->width - tx < tw ? d->width - tx : tw) * bpp;
                for (uint32_t r = 0; r < rows; r++) memcpy(band + r * row_bytes + (size_t)tx * bpp, tile + (size_t)r * tile_row, count);
            }
            for (uint32_t r = 0; r < rows; r++) convert_row(d, band + r * row_bytes, rgb + (size_t)(ty + r) * d->width * 3);
        }
        free(tile); free(band);
        return BV_OK;
    }
    uint32_t rows_per_strip = 0;
    TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rows_per_strip);
    if (rows_per_strip == 0 || rows_per_strip > d->height) rows_per_strip = d->height;
    tmsize_t strip_size = TIFFStripSize(tif);
    if (strip_size <= 0 || (size_t)strip_size < row_bytes) return fail(info, BV_CORRUPT, d->message[0] ? d->message : "bad strip size");
    uint8_t *strip = malloc((size_t)strip_size);
    if (!strip) return fail(info, BV_NO_MEMORY, "out of memory");
    for (uint32_t y0 = 0, s = 0; y0 < d->height; y0 += rows_per_strip, s++) {
        uint32_t rows = d->height - y0 < rows_per_strip ? d->height - y0 : rows_per_strip;
        tmsize_t got = TIFFReadEncodedStrip(tif, s, strip, (tmsize_t)(rows * row_bytes));
        if (got < 0 || (size_t)got < rows * row_bytes) {
            free(strip);
            bv_status status = got < 0 && d->message[0] && strstr(d->message, "Read error") ? BV_TRUNCATED : BV_CORRUPT;
            if (got >= 0) status = BV_TRUNCATED;
            return fail(info, status, d->message[0] ? d->message : "a strip ends before its rows");
        }
        for (uint32_t r = 0; r < rows; r++) convert_row(d, strip + (size_t)r * row_bytes, rgb + (size_t)(y0 + r) * d->width * 3);
    }
    free(strip);
    return BV_OK;
}

void bv_tiff_close(bv_tiff *d) {
    if (!d) return;
    if (d->tif) TIFFClose(d->tif);
    free(d);
}
