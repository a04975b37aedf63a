// PNG through libpng, converted to 8-bit RGB the way PIL's `convert("RGB")` does:
//   - palette -> its RGB entries (indices past the PLTE read (0,0,0), as in both libpng and
//     Pillow, whose palettes are zero-filled to 256 entries);
//   - 1/2/4-bit grey scaled to 0..255 (x255, x85, x17), grey replicated to R=G=B;
//   - alpha and tRNS dropped, never composited;
//   - 16-bit samples keep their high byte. This is what PIL does for 16-bit RGB, RGBA and grey+alpha.
//     For 16-bit grey (PIL mode "I;16") PIL clips the value to 255 instead, which turns almost any
//     such image white; that is a PIL defect and deliberately not reproduced.
// Chunk checks as in PIL: CRCs of the chunks before the first IDAT must be right (PIL refuses the
// file otherwise); IDAT and later CRCs are not checked (PIL does not read them either; damaged image
// data still fails in zlib). Known ancillary chunks that do not affect RGB pixels are skipped
// unparsed, so compressed text or ICC chunks cannot be used as decompression bombs (PIL inflates
// text and refuses more than 1 MB per chunk; we never inflate it, so accept such files).
// End of file, as PIL: a chunk after the image data cut inside its data is refused, a file that
// stops at a chunk boundary or inside a CRC is accepted (bv_png_check_tail). Unlike PIL, a file
// whose last IDAT chunk is cut (even by only its CRC or zlib checksum, with every row present) is
// refused: libpng's sequential reader fails before handing over the last row.
#include "codecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

struct bv_png {
    png_structp png;
    png_infop info;
    const uint8_t *data;
    size_t size;
    size_t pos;
    int hit_eof;
    png_bytep *rows;
    char message[200];
};

static void bv_png_error(png_structp png, png_const_charp message) {
    bv_png *dec = (bv_png *)png_get_error_ptr(png);
    snprintf(dec->message, sizeof dec->message, "%s", message ? message : "libpng error");
    png_longjmp(png, 1);
}

static void bv_png_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

static void bv_png_read(png_structp png, png_bytep out, size_t length) {
    bv_png *dec = (bv_png *)png_get_io_ptr(png);
    if (length > dec->size - dec->pos) {
        dec->hit_eof = 1;
        png_error(png, "file ends before the image is complete");
    }
    memcpy(out, dec->data + dec->pos, length);
    dec->pos += length;
}

static uint32_t bv_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static uint32_t bv_crc32(const uint8_t *p, size_t n, const uint32_t *table) {
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    }
    return crc ^ 0xFFFFFFFFu;
}

// Walks the chunks before the first IDAT: sizes, CRCs, IHDR and the pixel limit. Nothing is
// allocated from the file's numbers until this has passed.
static bv_status bv_png_prescan(const uint8_t *data, size_t size, uint64_t max_pixels, bv_info *info) {
    static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    if (size < 8 || memcmp(data, signature, 8) != 0) {
        snprintf(info->message, sizeof info->message, "not a PNG signature");
        return BV_CORRUPT;
    }
    uint32_t table[256];
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        }
        table[n] = c;
    }
    size_t pos = 8;
    int first = 1;
    for (;;) {
        if (size - pos < 8) {
            snprintf(info->message, sizeof info->message, "file ends before the image data");
            return BV_TRUNCATED;
        }
        uint32_t length = bv_be32(data + pos);
        const uint8_t *type = data + pos + 4;
        if (length > 0x7FFFFFFFu) {
            snprintf(info->message, sizeof info->message, "chunk length %u out of range", length);
            return BV_CORRUPT;
        }
        if (first) {
            if (memcmp(type, "IHDR", 4) != 0 || length != 13) {
                snprintf(info->message, sizeof info->message, "first chunk is not a valid IHDR");
                return BV_CORRUPT;
            }
        }
        if (memcmp(type, "IDAT", 4) == 0) {
            return BV_OK;
        }
        if (memcmp(type, "IEND", 4) == 0) {
            snprintf(info->message, sizeof info->message, "IEND before any image data");
            return BV_CORRUPT;
        }
        if ((uint64_t)(size - pos - 8) < (uint64_t)length + 4) {
            snprintf(info->message, sizeof info->message, "file ends inside chunk %.4s", (const char *)type);
            return BV_TRUNCATED;
        }
        uint32_t crc = bv_crc32(type, (size_t)length + 4, table);
        if (crc != bv_be32(data + pos + 8 + length)) {
            snprintf(info->message, sizeof info->message, "bad CRC in chunk %.4s", (const char *)type);
            return BV_CORRUPT;
        }
        if (first) {
            const uint8_t *h = data + pos + 8;
            uint32_t w = bv_be32(h), hgt = bv_be32(h + 4);
            info->source_width = (int)(w > 0x7FFFFFFFu ? 0x7FFFFFFF : w);
            info->source_height = (int)(hgt > 0x7FFFFFFFu ? 0x7FFFFFFF : hgt);
            if (w == 0 || hgt == 0 || w > 0x7FFFFFFFu || hgt > 0x7FFFFFFFu) {
                snprintf(info->message, sizeof info->message, "invalid dimensions %ux%u in IHDR", w, hgt);
                return BV_CORRUPT;
            }
            if ((uint64_t)w * (uint64_t)hgt > max_pixels) {
                snprintf(info->message, sizeof info->message, "%ux%u pixels exceed the limit of %llu", w, hgt,
                         (unsigned long long)max_pixels);
                return BV_TOO_LARGE;
            }
            first = 0;
        }
        pos += 8 + (size_t)length + 4;
    }
}

bv_status bv_png_open(const uint8_t *data, size_t size, uint64_t max_pixels, bv_png **out, bv_info *info) {
    *out = NULL;
    memset(info, 0, sizeof *info);
    bv_status status = bv_png_prescan(data, size, max_pixels, info);
    if (status != BV_OK) {
        return status;
    }
    bv_png *dec = (bv_png *)calloc(1, sizeof *dec);
    if (!dec) {
        snprintf(info->message, sizeof info->message, "out of memory");
        return BV_NO_MEMORY;
    }
    dec->data = data;
    dec->size = size;
    dec->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, dec, bv_png_error, bv_png_warning);
    if (dec->png) {
        dec->info = png_create_info_struct(dec->png);
    }
    if (!dec->png || !dec->info) {
        bv_png_close(dec);
        snprintf(info->message, sizeof info->message, "out of memory");
        return BV_NO_MEMORY;
    }
    if (setjmp(png_jmpbuf(dec->png))) {
        status = dec->hit_eof ? BV_TRUNCATED : BV_CORRUPT;
        snprintf(info->message, sizeof info->message, "%s", dec->message);
        bv_png_close(dec);
        return status;
    }
    png_set_read_fn(dec->png, dec, bv_png_read);
    png_set_crc_action(dec->png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);  // checked above, as PIL does
    png_set_benign_errors(dec->png, 1);  // e.g. "Too much image data": PIL ignores it too
    png_set_user_limits(dec->png, 0x7FFFFFFFu, 0x7FFFFFFFu);  // the pixel limit was checked above
    static const png_byte skipped[] =
        "bKGD\0cHRM\0eXIf\0gAMA\0hIST\0iCCP\0iTXt\0oFFs\0pCAL\0pHYs\0sBIT\0sCAL\0sPLT\0sRGB\0tEXt\0tIME\0tRNS\0zTXt\0";
    png_set_keep_unknown_chunks(dec->png, PNG_HANDLE_CHUNK_NEVER, NULL, 0);
    png_set_keep_unknown_chunks(dec->png, PNG_HANDLE_CHUNK_NEVER, skipped, (int)(sizeof skipped / 5));
    png_read_info(dec->png, dec->info);

    png_uint_32 width = 0, height = 0;
    int bit_depth = 0, color_type = 0, interlace = 0;
    png_get_IHDR(dec->png, dec->info, &width, &height, &bit_depth, &color_type, &interlace, NULL, NULL);
    info->source_width = (int)width;
    info->source_height = (int)height;
    info->width = (int)width;
    info->height = (int)height;
    info->components = color_type;
    info->bit_depth = bit_depth;
    info->progressive = interlace != PNG_INTERLACE_NONE;

    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_set_palette_to_rgb(dec->png);
    }
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) {
        png_set_expand_gray_1_2_4_to_8(dec->png);
    }
    if (bit_depth == 16) {
        png_set_strip_16(dec->png);  // keeps the high byte
    }
    if (color_type & PNG_COLOR_MASK_ALPHA) {
        png_set_strip_alpha(dec->png);
    }
    if (!(color_type & PNG_COLOR_MASK_COLOR)) {
        png_set_gray_to_rgb(dec->png);
    }
    if (interlace != PNG_INTERLACE_NONE) {
        (void)png_set_interlace_handling(dec->png);
    }
    png_read_update_info(dec->png, dec->info);
    if (png_get_rowbytes(dec->png, dec->info) != (size_t)width * 3 || png_get_channels(dec->png, dec->info) != 3 ||
        png_get_bit_depth(dec->png, dec->info) != 8) {
        snprintf(info->message, sizeof info->message, "unsupported PNG layout (colour type %d, %d bits)", color_type,
                 bit_depth);
        bv_png_close(dec);
        return BV_UNSUPPORTED;
    }
    *out = dec;
    return BV_OK;
}

// What follows the image data cannot change the pixels, but PIL reads it (load_end) and refuses
// the file when a chunk there is cut short inside its data; a file that simply stops (no CRC, a
// partial chunk header, no IEND) it accepts. Walks the chunk lengths only, as far as IEND or the
// next APNG frame (where PIL stops reading), and does the same.
static bv_status bv_png_check_tail(const uint8_t *data, size_t size, bv_info *info) {
    size_t pos = 8;
    int seen_idat = 0;
    while (size - pos >= 8) {
        uint32_t length = bv_be32(data + pos);
        const uint8_t *type = data + pos + 4;
        if (memcmp(type, "IEND", 4) == 0 || (seen_idat && memcmp(type, "fcTL", 4) == 0)) {
            break;
        }
        int word = 1;  // PIL's is_cid: four of [A-Za-z0-9_]; anything else ends its reading quietly
        for (int i = 0; i < 4; i++) {
            uint8_t c = type[i];
            word &= (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
        }
        if (!word) {
            break;
        }
        if (memcmp(type, "IDAT", 4) == 0) {
            seen_idat = 1;
        }
        if ((uint64_t)length > (uint64_t)(size - pos - 8)) {
            snprintf(info->message, sizeof info->message, "file ends inside chunk %.4s after the image data",
                     (const char *)type);
            return BV_TRUNCATED;
        }
        if ((uint64_t)length + 12 > (uint64_t)(size - pos)) {
            break;  // only (part of) the CRC is missing
        }
        pos += 12 + (size_t)length;
    }
    return BV_OK;
}

bv_status bv_png_read_rgb(bv_png *dec, uint8_t *rgb, bv_info *info) {
    png_uint_32 width = png_get_image_width(dec->png, dec->info);
    png_uint_32 height = png_get_image_height(dec->png, dec->info);
    dec->rows = (png_bytep *)malloc((size_t)height * sizeof(png_bytep));
    if (!dec->rows) {
        snprintf(info->message, sizeof info->message, "out of memory");
        return BV_NO_MEMORY;
    }
    for (png_uint_32 y = 0; y < height; y++) {
        dec->rows[y] = rgb + (size_t)y * (size_t)width * 3;
    }
    if (setjmp(png_jmpbuf(dec->png))) {
        snprintf(info->message, sizeof info->message, "%s", dec->message);
        // "Not enough image data": the IDAT stream stops early (PIL: "image file is truncated").
        return dec->hit_eof || strstr(dec->message, "Not enough image data") ? BV_TRUNCATED : BV_CORRUPT;
    }
    png_read_image(dec->png, dec->rows);
    return bv_png_check_tail(dec->data, dec->size, info);
}

void bv_png_close(bv_png *dec) {
    if (!dec) {
        return;
    }
    if (dec->png) {
        png_destroy_read_struct(&dec->png, dec->info ? &dec->info : NULL, NULL);
    }
    free(dec->rows);
    free(dec);
}
