#pragma once
// C shims over libjpeg-turbo, libpng, libwebp and libtiff for BirderVision (and a JPEG encoder for reports).
//
// Why C: libjpeg and libpng report errors by calling a handler that must not return; the handlers
// here longjmp back into the C function that called the library (setjmp lives in that frame), so
// no error ever reaches exit() and no longjmp ever crosses a Swift frame.
//
// Each codec is a small handle API over an in-memory file: `open` reads the header (dimensions,
// pixel-limit check), the caller allocates width*height*3 bytes, `read_rgb` decodes into them as
// 8-bit RGB (what PIL's `convert("RGB")` gives, see each function), `close` frees everything.
// The caller keeps `data` alive and unchanged until `close`. Handles are independent, so several
// threads may decode at once (one handle per thread).

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    BV_OK = 0,
    BV_CORRUPT = 1,      // the library rejected the data
    BV_TRUNCATED = 2,    // the data ended before the image was complete
    BV_TOO_LARGE = 3,    // width*height exceeds the caller's pixel limit
    BV_UNSUPPORTED = 4,  // valid file, but a variant this decoder does not handle
    BV_NO_MEMORY = 5,
} bv_status;

typedef struct {
    int width;           // decoded output (after JPEG DCT scaling, if any)
    int height;
    int source_width;    // as the file states
    int source_height;
    int components;      // JPEG: components; PNG: colour type; WebP: has alpha
    int bit_depth;       // PNG bit depth; 8 for JPEG and WebP
    int progressive;     // JPEG progressive, PNG interlaced, WebP animated
    char message[240];   // the reason, when a call does not return BV_OK
} bv_info;

// MARK: JPEG (libjpeg-turbo)

typedef struct bv_jpeg bv_jpeg;

// scale_denom: 1 (exact), 2, 4 or 8 (libjpeg's DCT scaling; changes pixels).
// max_scans: refuse files with more scans than this (progressive-JPEG CPU bombs); 0 = no limit.
bv_status bv_jpeg_open(const uint8_t *data, size_t size, uint64_t max_pixels, int scale_denom,
                       int max_scans, bv_jpeg **out, bv_info *info);
bv_status bv_jpeg_read_rgb(bv_jpeg *dec, uint8_t *rgb, bv_info *info);
void bv_jpeg_close(bv_jpeg *dec);

// MARK: PNG (libpng)

typedef struct bv_png bv_png;

bv_status bv_png_open(const uint8_t *data, size_t size, uint64_t max_pixels, bv_png **out, bv_info *info);
bv_status bv_png_read_rgb(bv_png *dec, uint8_t *rgb, bv_info *info);
void bv_png_close(bv_png *dec);

// MARK: WebP (libwebp, libwebpdemux for animations)

bv_status bv_webp_info(const uint8_t *data, size_t size, uint64_t max_pixels, bv_info *info);
bv_status bv_webp_read_rgb(const uint8_t *data, size_t size, uint8_t *rgb, bv_info *info);

// MARK: TIFF (libtiff; the first image of the file)

typedef struct bv_tiff bv_tiff;

bv_status bv_tiff_open(const uint8_t *data, size_t size, uint64_t max_pixels, bv_tiff **out, bv_info *info);
bv_status bv_tiff_read_rgb(bv_tiff *dec, uint8_t *rgb, bv_info *info);
void bv_tiff_close(bv_tiff *dec);

// MARK: JPEG encoding (libjpeg-turbo), for report thumbnails

// Encodes width*height*3 bytes of 8-bit RGB at `quality` (1…100) into a buffer the caller frees
// with bv_free; on failure *out is NULL and `message` says why.
bv_status bv_jpeg_encode_rgb(const uint8_t *rgb, int width, int height, int quality, uint8_t **out, size_t *out_size,
                             char message[240]);
void bv_free(void *pointer);

#ifdef __cplusplus
}
#endif
