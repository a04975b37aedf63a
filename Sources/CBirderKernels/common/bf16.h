// bfloat16: the top 16 bits of a Float32. Rounding is to nearest, ties to even (as PyTorch's
// c10::BFloat16 and the AVX-512-BF16 conversions round); a NaN stays a (quiet) NaN. Included by
// conv_kernels.h inside each set's target region (the v8 form vectorises there) and by select.c.
#ifndef CBIRDERKERNELS_BF16_H
#define CBIRDERKERNELS_BF16_H

#include <stdint.h>
#include <string.h>

static inline uint32_t bk_bf16_round_bits(uint32_t u) {
    if ((u & 0x7fffffffu) > 0x7f800000u) return (u | 0x00400000u) & 0xffff0000u;
    return (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
}

/// x rounded to the nearest bfloat16, as a Float32.
static inline float bk_bf16_round(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    u = bk_bf16_round_bits(u);
    memcpy(&x, &u, sizeof x);
    return x;
}

/// The bfloat16 nearest to x.
static inline uint16_t bk_bf16_from_float(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return (uint16_t)(bk_bf16_round_bits(u) >> 16);
}

#endif
