// JPEG encoding through libjpeg-turbo, for the small thumbnails embedded in reports. Errors longjmp
// back here (never across a Swift frame), as in jpeg.c.
#include "codecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} bv_encode_error;

static void bv_encode_error_exit(j_common_ptr cinfo) {
    bv_encode_error *err = (bv_encode_error *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, err->message);
    longjmp(err->jump, 1);
}

static void bv_encode_output_message(j_common_ptr cinfo) { (void)cinfo; }

bv_status bv_jpeg_encode_rgb(const uint8_t *rgb, int width, int height, int quality, uint8_t **out, size_t *out_size,
                             char message[240]) {
    *out = NULL;
    *out_size = 0;
    message[0] = 0;
    if (width <= 0 || height <= 0 || width > 65500 || height > 65500) {
        snprintf(message, 240, "cannot encode a %dx%d JPEG", width, height);
        return BV_UNSUPPORTED;
    }
    struct jpeg_compress_struct cinfo;
    bv_encode_error err;
    // libjpeg-turbo's memory destination grows its own buffer; volatile so it survives the longjmp.
    unsigned char *volatile buffer = NULL;
    unsigned long volatile size = 0;
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = bv_encode_error_exit;
    err.pub.output_message = bv_encode_output_message;
    if (setjmp(err.jump)) {
        snprintf(message, 240, "%s", err.message);
        jpeg_destroy_compress(&cinfo);
        free(buffer);
        return BV_CORRUPT;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, (unsigned char **)&buffer, (unsigned long *)&size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality < 1 ? 1 : (quality > 100 ? 100 : quality), TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)cinfo.next_scanline * (size_t)width * 3);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *out = buffer;
    *out_size = size;
    return BV_OK;
}

void bv_free(void *pointer) { free(pointer); }
