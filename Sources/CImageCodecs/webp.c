// WebP through libwebp. Pillow decodes every WebP with WebPAnimDecoder (RGBA, not premultiplied,
// libwebp's default fancy upsampling) and drops alpha in convert("RGB"). For a still image that is
// exactly WebPDecode to MODE_RGB, which is what is used here; animations go through
// WebPAnimDecoder like Pillow and keep the first frame (composited on the transparent-black canvas).
#include "codecs.h"

#include <stdio.h>
#include <string.h>

#include <webp/decode.h>
#include <webp/demux.h>

static bv_status bv_webp_status(VP8StatusCode code, bv_info *info, const char *what) {
    switch (code) {
    case VP8_STATUS_OK:
        return BV_OK;
    case VP8_STATUS_NOT_ENOUGH_DATA:
        snprintf(info->message, sizeof info->message, "%s: file ends before the image is complete", what);
        return BV_TRUNCATED;
    case VP8_STATUS_OUT_OF_MEMORY:
        snprintf(info->message, sizeof info->message, "%s: out of memory", what);
        return BV_NO_MEMORY;
    case VP8_STATUS_UNSUPPORTED_FEATURE:
        snprintf(info->message, sizeof info->message, "%s: unsupported feature", what);
        return BV_UNSUPPORTED;
    default:
        snprintf(info->message, sizeof info->message, "%s: invalid WebP data (status %d)", what, (int)code);
        return BV_CORRUPT;
    }
}

bv_status bv_webp_info(const uint8_t *data, size_t size, uint64_t max_pixels, bv_info *info) {
    memset(info, 0, sizeof *info);
    WebPBitstreamFeatures features;
    bv_status status = bv_webp_status(WebPGetFeatures(data, size, &features), info, "header");
    if (status != BV_OK) {
        return status;
    }
    info->source_width = info->width = features.width;
    info->source_height = info->height = features.height;
    info->components = features.has_alpha ? 4 : 3;
    info->bit_depth = 8;
    info->progressive = features.has_animation ? 1 : 0;
    if (features.width <= 0 || features.height <= 0) {
        snprintf(info->message, sizeof info->message, "invalid dimensions %dx%d", features.width, features.height);
        return BV_CORRUPT;
    }
    if ((uint64_t)features.width * (uint64_t)features.height > max_pixels) {
        snprintf(info->message, sizeof info->message, "%dx%d pixels exceed the limit of %llu", features.width,
                 features.height, (unsigned long long)max_pixels);
        return BV_TOO_LARGE;
    }
    return BV_OK;
}

static bv_status bv_webp_first_frame(const uint8_t *data, size_t size, uint8_t *rgb, bv_info *info) {
    WebPAnimDecoderOptions options;
    if (!WebPAnimDecoderOptionsInit(&options)) {
        snprintf(info->message, sizeof info->message, "libwebp version mismatch");
        return BV_UNSUPPORTED;
    }
    options.color_mode = MODE_RGBA;
    options.use_threads = 0;
    WebPData webp = {data, size};
    WebPAnimDecoder *decoder = WebPAnimDecoderNew(&webp, &options);
    if (!decoder) {
        // Tell a cut file from a damaged one: a partial parse stops before WEBP_DEMUX_DONE.
        WebPDemuxState state = WEBP_DEMUX_PARSE_ERROR;
        WebPDemuxer *demux = WebPDemuxPartial(&webp, &state);
        WebPDemuxDelete(demux);
        if (state == WEBP_DEMUX_PARSING_HEADER || state == WEBP_DEMUX_PARSED_HEADER) {
            snprintf(info->message, sizeof info->message, "animation: file ends before the image is complete");
            return BV_TRUNCATED;
        }
        snprintf(info->message, sizeof info->message, "cannot parse the animation");
        return BV_CORRUPT;
    }
    WebPAnimInfo anim;
    if (!WebPAnimDecoderGetInfo(decoder, &anim) || (int)anim.canvas_width != info->width ||
        (int)anim.canvas_height != info->height) {
        WebPAnimDecoderDelete(decoder);
        snprintf(info->message, sizeof info->message, "animation canvas does not match the header");
        return BV_CORRUPT;
    }
    uint8_t *rgba = NULL;
    int timestamp = 0;
    if (!WebPAnimDecoderGetNext(decoder, &rgba, &timestamp) || !rgba) {
        WebPAnimDecoderDelete(decoder);
        snprintf(info->message, sizeof info->message, "cannot decode the first frame");
        return BV_CORRUPT;
    }
    const size_t pixels = (size_t)info->width * (size_t)info->height;
    for (size_t i = 0; i < pixels; i++) {
        rgb[3 * i + 0] = rgba[4 * i + 0];
        rgb[3 * i + 1] = rgba[4 * i + 1];
        rgb[3 * i + 2] = rgba[4 * i + 2];
    }
    WebPAnimDecoderDelete(decoder);
    return BV_OK;
}

bv_status bv_webp_read_rgb(const uint8_t *data, size_t size, uint8_t *rgb, bv_info *info) {
    if (info->progressive) {
        return bv_webp_first_frame(data, size, rgb, info);
    }
    WebPDecoderConfig config;
    if (!WebPInitDecoderConfig(&config)) {
        snprintf(info->message, sizeof info->message, "libwebp version mismatch");
        return BV_UNSUPPORTED;
    }
    config.output.colorspace = MODE_RGB;
    config.output.is_external_memory = 1;
    config.output.u.RGBA.rgba = rgb;
    config.output.u.RGBA.stride = info->width * 3;
    config.output.u.RGBA.size = (size_t)info->width * (size_t)info->height * 3;
    bv_status status = bv_webp_status(WebPDecode(data, size, &config), info, "image data");
    WebPFreeDecBuffer(&config.output);
    return status;
}
