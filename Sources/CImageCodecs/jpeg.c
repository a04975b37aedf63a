// JPEG through libjpeg-turbo, set up the way Pillow's JpegDecode.c sets it up, so pixels match
// `Image.open(p).convert("RGB")`:
//   - libjpeg's defaults: JDCT_ISLOW, fancy upsampling on (Pillow changes them only in draft mode);
//   - out_color_space JCS_RGB for 1 and 3 components (libjpeg-turbo's grey->RGB replicates, as
//     PIL's L->RGB does), JCS_CMYK for 4, then Pillow's "CMYK;I" (inverted, Adobe polarity, always)
//     and its cmyk2rgb with the same integer rounding;
//   - a file that ends before the last scanline is refused (PIL raises "image file is truncated"
//     unless LOAD_TRUNCATED_IMAGES); warnings about corrupt entropy data are not errors (PIL ignores
//     them too).
#include "codecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} bv_jpeg_error;

struct bv_jpeg {
    struct jpeg_decompress_struct cinfo;
    bv_jpeg_error err;
    struct jpeg_source_mgr source;
    struct jpeg_progress_mgr progress;
    const uint8_t *data;
    size_t size;
    int hit_eof;
    int scans_exceeded;
    int max_scans;
    int created;
};

static const JOCTET bv_fake_eoi[2] = {0xFF, JPEG_EOI};

static void bv_jpeg_error_exit(j_common_ptr cinfo) {
    bv_jpeg_error *err = (bv_jpeg_error *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, err->message);
    longjmp(err->jump, 1);
}

// Warnings are counted by libjpeg (num_warnings) but never printed: a library must not write to stderr.
static void bv_jpeg_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void bv_source_init(j_decompress_ptr cinfo) { (void)cinfo; }

// The whole file is in the buffer from the start, so being asked for more means the file ended.
// Like jpeg_mem_src, hand libjpeg a fake EOI so it stops cleanly; remember it to refuse the image.
static boolean bv_source_fill(j_decompress_ptr cinfo) {
    bv_jpeg *dec = (bv_jpeg *)cinfo->client_data;
    dec->hit_eof = 1;
    WARNMS(cinfo, JWRN_JPEG_EOF);
    cinfo->src->next_input_byte = bv_fake_eoi;
    cinfo->src->bytes_in_buffer = 2;
    return TRUE;
}

static void bv_source_skip(j_decompress_ptr cinfo, long num_bytes) {
    struct jpeg_source_mgr *src = cinfo->src;
    if (num_bytes <= 0) {
        return;
    }
    while (num_bytes > (long)src->bytes_in_buffer) {
        num_bytes -= (long)src->bytes_in_buffer;
        (void)(*src->fill_input_buffer)(cinfo);
    }
    src->next_input_byte += (size_t)num_bytes;
    src->bytes_in_buffer -= (size_t)num_bytes;
}

static void bv_source_term(j_decompress_ptr cinfo) { (void)cinfo; }

static void bv_progress(j_common_ptr cinfo) {
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    bv_jpeg *dec = (bv_jpeg *)cinfo->client_data;
    if (dec->max_scans > 0 && d->input_scan_number > dec->max_scans) {
        dec->scans_exceeded = 1;
        ERREXIT(cinfo, JERR_NOT_COMPILED);  // any error code: the flag carries the reason
    }
}

static bv_status bv_jpeg_failure(bv_jpeg *dec, bv_info *info) {
    if (dec->scans_exceeded) {
        snprintf(info->message, sizeof info->message, "more than %d scans (limit against progressive-JPEG CPU bombs)",
                 dec->max_scans);
        return BV_UNSUPPORTED;
    }
    if (dec->hit_eof) {
        snprintf(info->message, sizeof info->message, "file ends before the image is complete (%s)",
                 dec->err.message[0] ? dec->err.message : "premature end of JPEG data");
        return BV_TRUNCATED;
    }
    snprintf(info->message, sizeof info->message, "%s", dec->err.message);
    return BV_CORRUPT;
}

bv_status bv_jpeg_open(const uint8_t *data, size_t size, uint64_t max_pixels, int scale_denom,
                       int max_scans, bv_jpeg **out, bv_info *info) {
    *out = NULL;
    memset(info, 0, sizeof *info);
    bv_jpeg *dec = (bv_jpeg *)calloc(1, sizeof *dec);
    if (!dec) {
        snprintf(info->message, sizeof info->message, "out of memory");
        return BV_NO_MEMORY;
    }
    dec->data = data;
    dec->size = size;
    dec->max_scans = max_scans;

    dec->cinfo.err = jpeg_std_error(&dec->err.pub);
    dec->err.pub.error_exit = bv_jpeg_error_exit;
    dec->err.pub.output_message = bv_jpeg_output_message;
    if (setjmp(dec->err.jump)) {
        bv_status status = bv_jpeg_failure(dec, info);
        bv_jpeg_close(dec);
        return status;
    }
    jpeg_create_decompress(&dec->cinfo);
    dec->created = 1;
    dec->cinfo.client_data = dec;

    dec->source.init_source = bv_source_init;
    dec->source.fill_input_buffer = bv_source_fill;
    dec->source.skip_input_data = bv_source_skip;
    dec->source.resync_to_restart = jpeg_resync_to_restart;
    dec->source.term_source = bv_source_term;
    dec->source.next_input_byte = data;
    dec->source.bytes_in_buffer = size;
    dec->cinfo.src = &dec->source;

    dec->progress.progress_monitor = bv_progress;
    dec->cinfo.progress = &dec->progress;

    // Pillow reads headers with require_image = FALSE and skips tables-only datastreams.
    int header, rounds = 0;
    do {
        header = jpeg_read_header(&dec->cinfo, FALSE);
    } while (header == JPEG_HEADER_TABLES_ONLY && !dec->hit_eof && ++rounds < 16);
    if (header != JPEG_HEADER_OK) {
        snprintf(dec->err.message, sizeof dec->err.message, "JPEG datastream contains no image");
        bv_status status = bv_jpeg_failure(dec, info);
        bv_jpeg_close(dec);
        return status;
    }

    struct jpeg_decompress_struct *c = &dec->cinfo;
    info->source_width = (int)c->image_width;
    info->source_height = (int)c->image_height;
    info->components = c->num_components;
    info->bit_depth = c->data_precision;
    info->progressive = c->progressive_mode ? 1 : 0;

    if ((uint64_t)c->image_width * (uint64_t)c->image_height > max_pixels) {
        snprintf(info->message, sizeof info->message, "%ux%u pixels exceed the limit of %llu", c->image_width,
                 c->image_height, (unsigned long long)max_pixels);
        bv_jpeg_close(dec);
        return BV_TOO_LARGE;
    }
    if (c->data_precision != 8) {  // Pillow: "cannot handle %d-bit layers"
        snprintf(info->message, sizeof info->message, "%d-bit samples are not supported", c->data_precision);
        bv_jpeg_close(dec);
        return BV_UNSUPPORTED;
    }
    switch (c->num_components) {
    case 1:
    case 3:
        c->out_color_space = JCS_RGB;
        break;
    case 4:
        c->out_color_space = JCS_CMYK;
        break;
    default:  // Pillow: "cannot handle %d-layer images"
        snprintf(info->message, sizeof info->message, "%d-component images are not supported", c->num_components);
        bv_jpeg_close(dec);
        return BV_UNSUPPORTED;
    }
    if (scale_denom == 2 || scale_denom == 4 || scale_denom == 8) {
        c->scale_num = 1;
        c->scale_denom = (unsigned int)scale_denom;
    }
    jpeg_calc_output_dimensions(c);
    info->width = (int)c->output_width;
    info->height = (int)c->output_height;
    *out = dec;
    return BV_OK;
}

// Pillow's "CMYK;I" unpacker (255 - x) followed by its cmyk2rgb:
//   nk = 255 - k; out = clip8(nk - MULDIV255(c, nk)), MULDIV255(a, b) = ((a*b + 128) >> 8 + a*b + 128) >> 8.
static inline uint8_t bv_cmyk_channel(int c, int nk) {
    int t = c * nk + 128;
    int v = nk - (((t >> 8) + t) >> 8);
    return (uint8_t)(v <= 0 ? 0 : (v < 256 ? v : 255));
}

bv_status bv_jpeg_read_rgb(bv_jpeg *dec, uint8_t *rgb, bv_info *info) {
    struct jpeg_decompress_struct *c = &dec->cinfo;
    uint8_t *volatile cmyk_row = NULL;  // volatile: read after longjmp
    if (setjmp(dec->err.jump)) {
        free(cmyk_row);
        return bv_jpeg_failure(dec, info);
    }
    jpeg_start_decompress(c);
    if (dec->hit_eof) {  // a progressive file is absorbed whole by jpeg_start_decompress
        free(cmyk_row);
        return bv_jpeg_failure(dec, info);
    }
    const size_t width = c->output_width;
    const size_t stride = width * 3;
    if (c->out_color_space == JCS_CMYK) {
        cmyk_row = (uint8_t *)malloc(width * 4);
        if (!cmyk_row) {
            snprintf(info->message, sizeof info->message, "out of memory");
            return BV_NO_MEMORY;
        }
        uint8_t *const buffer = cmyk_row;
        while (c->output_scanline < c->output_height) {
            JSAMPROW row = buffer;
            uint8_t *dst = rgb + (size_t)c->output_scanline * stride;
            if (jpeg_read_scanlines(c, &row, 1) != 1 || dec->hit_eof) {
                break;  // a cut file: stop now rather than decode the rest as grey
            }
            for (size_t x = 0; x < width; x++) {
                const uint8_t *s = buffer + 4 * x;
                int nk = s[3];  // 255 - (255 - k)
                dst[3 * x + 0] = bv_cmyk_channel(255 - s[0], nk);
                dst[3 * x + 1] = bv_cmyk_channel(255 - s[1], nk);
                dst[3 * x + 2] = bv_cmyk_channel(255 - s[2], nk);
            }
        }
        free(cmyk_row);
        cmyk_row = NULL;
    } else {
        JSAMPROW rows[16];
        while (c->output_scanline < c->output_height) {
            int n = (int)(c->output_height - c->output_scanline);
            if (n > 16) {
                n = 16;
            }
            for (int i = 0; i < n; i++) {
                rows[i] = rgb + ((size_t)c->output_scanline + (size_t)i) * stride;
            }
            if (jpeg_read_scanlines(c, rows, (JDIMENSION)n) == 0 || dec->hit_eof) {
                break;  // a cut file: stop now rather than decode the rest as grey
            }
        }
    }
    if (dec->hit_eof || c->output_scanline < c->output_height) {
        dec->hit_eof = 1;
        return bv_jpeg_failure(dec, info);
    }
    // Running out of data only here (after every scanline) is accepted, as Pillow accepts its decoder
    // suspending in jpeg_finish_decompress once all lines are out; decoding errors here still fail.
    // (A file cut just before its EOI usually runs out inside the last MCU row, refused above, as by PIL.)
    jpeg_finish_decompress(c);
    return BV_OK;
}

void bv_jpeg_close(bv_jpeg *dec) {
    if (!dec) {
        return;
    }
    if (dec->created) {
        jpeg_destroy_decompress(&dec->cinfo);
    }
    free(dec);
}
