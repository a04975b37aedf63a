// The kernels' bodies, compiled once per instruction set: the including file defines BK_SUFFIX
// (e.g. avx2) and the target attributes. Vectors are clang/GCC vector extensions of 8 floats;
// `a * b + c` contracts to FMA where the target has it (never to fmaf calls where it does not).
#include <stdint.h>
#include <string.h>

#include "CBirderKernels.h"

// The static helpers pass 8-float vectors by value; they are always inlined, so the portable
// build's note that such an ABI would differ from the AVX one does not apply.
#pragma clang diagnostic ignored "-Wpsabi"

#define BK_CAT2(a, b) a##_##b
#define BK_CAT(a, b) BK_CAT2(a, b)
#define BK_FN(name) BK_CAT(name, BK_SUFFIX)

typedef float v8 __attribute__((vector_size(32)));
typedef uint32_t v8u __attribute__((vector_size(32)));
typedef uint16_t u16x8 __attribute__((vector_size(16)));
#include "gelu_approx.h"
#include "bf16.h"

static inline __attribute__((always_inline)) v8 ld8(const float *p) { v8 v; memcpy(&v, p, sizeof v); return v; }
static inline __attribute__((always_inline)) void st8(float *p, v8 v) { memcpy(p, &v, sizeof v); }
static inline __attribute__((always_inline)) v8 splat8(float x) { return (v8){x, x, x, x, x, x, x, x}; }
static inline __attribute__((always_inline)) float hsum8(v8 v) {
    return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}
// bk_bf16_round on 8 floats at once (integer lanes: add the rounding bias, clear the low half).
static inline __attribute__((always_inline)) v8 round8_bf16(v8 x) {
    v8u u = (v8u)x;
    v8u nan = (u & 0x7fffffffu) > 0x7f800000u;
    v8u rounded = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    return (v8)((nan & ((u | 0x00400000u) & 0xffff0000u)) | (~nan & rounded));
}
// 8 bfloat16 values widened to Float32 (exact: a bfloat16 is a Float32's top half).
static inline __attribute__((always_inline)) v8 ld8_bf16(const uint16_t *p) {
    u16x8 h;
    memcpy(&h, p, sizeof h);
    return (v8)(__builtin_convertvector(h, v8u) << 16);
}


// ---------------------------------------------------------------------------------------------
// GEMM: a 6×16 register tile (12 accumulators, 2 weight vectors, 1 broadcast) over the whole K.
// A is read in place (rows `lda` apart); the weights were packed at load time, so a tile streams
// one contiguous 16·K panel. The epilogue (bias, GELU) runs on the registers before the store.

static inline __attribute__((always_inline)) void tile_epilogue(v8 *acc, const float *bias, int act) {
    v8 b0 = ld8(bias), b1 = ld8(bias + 8);
    for (int r = 0; r < 6; r++) {
        acc[2 * r] += b0;
        acc[2 * r + 1] += b1;
    }
    if (act == 1) {
        for (int r = 0; r < 12; r++) acc[r] = bk_gelu8(acc[r]);
    }
}

// A tile that overhangs C (fewer rows or columns than the registers hold) goes through a zeroed
// staging copy `tmp` (`width` floats per row): its valid rows × cols are copied in or out.
static inline __attribute__((always_inline)) void tile_stage_in(const float *c, long ldc, int rows, int cols,
                                                                float *tmp, int width, size_t tmp_size) {
    memset(tmp, 0, tmp_size);
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < cols; j++) tmp[width * r + j] = c[(size_t)r * (size_t)ldc + j];
}
static inline __attribute__((always_inline)) void tile_stage_out(const float *tmp, int width, int rows, int cols,
                                                                 float *c, long ldc) {
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < cols; j++) c[(size_t)r * (size_t)ldc + j] = tmp[width * r + j];
}

// Weights of one K step of a 16-column panel as two 8-float vectors: Float32 panels, or
// bfloat16 panels widened on the way in (the products are then exact in Float32).
static inline __attribute__((always_inline)) void panel_row(const void *panel, int p, int bf16, v8 *w0, v8 *w1) {
    if (bf16) {
        const uint16_t *b = (const uint16_t *)panel + (size_t)p * 16;
        *w0 = ld8_bf16(b);
        *w1 = ld8_bf16(b + 8);
    } else {
        const float *b = (const float *)panel + (size_t)p * 16;
        *w0 = ld8(b);
        *w1 = ld8(b + 8);
    }
}

// `first`: start from zero, else continue the partial sums already in c. `last`: apply the
// epilogue. (K is split into blocks so a block of A stays in L2 and a weight panel in L1.)
// `bf16` (a constant at each call) says how the panel is stored.
static inline __attribute__((always_inline)) void tile_6x16_any(
    int k, const float *a, long lda, int rows, const void *panel, int bf16, const float *bias, int act,
    float *c, long ldc, int cols, int first, int last) {
    // Rows past `rows` re-read row 0 (valid memory); their results are never stored.
    const float *a0 = a;
    const float *a1 = rows > 1 ? a + lda : a;
    const float *a2 = rows > 2 ? a + 2 * lda : a;
    const float *a3 = rows > 3 ? a + 3 * lda : a;
    const float *a4 = rows > 4 ? a + 4 * lda : a;
    const float *a5 = rows > 5 ? a + 5 * lda : a;
    int full = rows == 6 && cols == 16;
    float tmp[6 * 16];
    v8 c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0};
    v8 c30 = {0}, c31 = {0}, c40 = {0}, c41 = {0}, c50 = {0}, c51 = {0};
    if (!first) {
        const float *src = c;
        long lds = ldc;
        if (!full) {
            tile_stage_in(c, ldc, rows, cols, tmp, 16, sizeof tmp);
            src = tmp;
            lds = 16;
        }
        c00 = ld8(src); c01 = ld8(src + 8);
        c10 = ld8(src + lds); c11 = ld8(src + lds + 8);
        c20 = ld8(src + 2 * lds); c21 = ld8(src + 2 * lds + 8);
        c30 = ld8(src + 3 * lds); c31 = ld8(src + 3 * lds + 8);
        c40 = ld8(src + 4 * lds); c41 = ld8(src + 4 * lds + 8);
        c50 = ld8(src + 5 * lds); c51 = ld8(src + 5 * lds + 8);
    }
    for (int p = 0; p < k; p++) {
        v8 b0, b1, x;
        panel_row(panel, p, bf16, &b0, &b1);
        x = splat8(a0[p]); c00 = x * b0 + c00; c01 = x * b1 + c01;
        x = splat8(a1[p]); c10 = x * b0 + c10; c11 = x * b1 + c11;
        x = splat8(a2[p]); c20 = x * b0 + c20; c21 = x * b1 + c21;
        x = splat8(a3[p]); c30 = x * b0 + c30; c31 = x * b1 + c31;
        x = splat8(a4[p]); c40 = x * b0 + c40; c41 = x * b1 + c41;
        x = splat8(a5[p]); c50 = x * b0 + c50; c51 = x * b1 + c51;
    }
    if (full && last) {
        // The common case straight from the registers: bias, activation, store.
        v8 b0 = ld8(bias), b1 = ld8(bias + 8);
        c00 += b0; c01 += b1; c10 += b0; c11 += b1; c20 += b0; c21 += b1;
        c30 += b0; c31 += b1; c40 += b0; c41 += b1; c50 += b0; c51 += b1;
        if (act == 1) {
            c00 = bk_gelu8(c00); c01 = bk_gelu8(c01); c10 = bk_gelu8(c10); c11 = bk_gelu8(c11);
            c20 = bk_gelu8(c20); c21 = bk_gelu8(c21); c30 = bk_gelu8(c30); c31 = bk_gelu8(c31);
            c40 = bk_gelu8(c40); c41 = bk_gelu8(c41); c50 = bk_gelu8(c50); c51 = bk_gelu8(c51);
        }
        st8(c, c00); st8(c + 8, c01);
        st8(c + ldc, c10); st8(c + ldc + 8, c11);
        st8(c + 2 * ldc, c20); st8(c + 2 * ldc + 8, c21);
        st8(c + 3 * ldc, c30); st8(c + 3 * ldc + 8, c31);
        st8(c + 4 * ldc, c40); st8(c + 4 * ldc + 8, c41);
        st8(c + 5 * ldc, c50); st8(c + 5 * ldc + 8, c51);
        return;
    }
    v8 acc[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
    if (last) tile_epilogue(acc, bias, act);
    if (full) {
        for (int r = 0; r < 6; r++) {
            st8(c + r * ldc, acc[2 * r]);
            st8(c + r * ldc + 8, acc[2 * r + 1]);
        }
    } else {
        for (int r = 0; r < 6; r++) {
            st8(tmp + 16 * r, acc[2 * r]);
            st8(tmp + 16 * r + 8, acc[2 * r + 1]);
        }
        tile_stage_out(tmp, 16, rows, cols, c, ldc);
    }
}

static void tile_6x16(int k, const float *a, long lda, int rows, const float *panel, const float *bias, int act,
                      float *c, long ldc, int cols, int first, int last) {
    tile_6x16_any(k, a, lda, rows, panel, 0, bias, act, c, ldc, cols, first, last);
}

static void tile_6x16_bf16(int k, const float *a, long lda, int rows, const uint16_t *panel, const float *bias,
                           int act, float *c, long ldc, int cols, int first, int last) {
    tile_6x16_any(k, a, lda, rows, panel, 1, bias, act, c, ldc, cols, first, last);
}

// A panel's last 8 (or fewer) columns — growth 104 or a 216-channel transition ends on half a
// panel — as a 12×8 tile: the 6×16 tile would spend half its FMAs on zero weights. Same contract
// as tile_6x16 (rows ≤ 12, cols ≤ 8; the panel keeps its 16-float stride).
static void tile_12x8(int k, const float *a, long lda, int rows, const float *panel,
                      const float *bias, int act, float *c, long ldc, int cols, int first,
                      int last) {
    const float *ar[12];
    v8 acc[12];
    for (int r = 0; r < 12; r++) ar[r] = r < rows ? a + (size_t)r * (size_t)lda : a;
    float tmp[12 * 8];
    int full = rows == 12 && cols == 8;
    if (first) {
        for (int r = 0; r < 12; r++) acc[r] = (v8){0};
    } else {
        tile_stage_in(c, ldc, rows, cols, tmp, 8, sizeof tmp);
        for (int r = 0; r < 12; r++) acc[r] = ld8(tmp + 8 * r);
    }
    const float *b = panel;
    for (int p = 0; p < k; p++, b += 16) {
        v8 w = ld8(b);
#pragma clang loop unroll(full)
        for (int r = 0; r < 12; r++) acc[r] = splat8(ar[r][p]) * w + acc[r];
    }
    if (last) {
        v8 b0 = ld8(bias);
        for (int r = 0; r < 12; r++) acc[r] += b0;
        if (act == 1)
            for (int r = 0; r < 12; r++) acc[r] = bk_gelu8(acc[r]);
    }
    if (full) {
        for (int r = 0; r < 12; r++) st8(c + (size_t)r * (size_t)ldc, acc[r]);
    } else {
        for (int r = 0; r < 12; r++) st8(tmp + 8 * r, acc[r]);
        tile_stage_out(tmp, 8, rows, cols, c, ldc);
    }
}

// K is cut into blocks of about BK_KC so a weight micro-panel (BK_KC×16 floats) stays in L1 and
// the block of A it meets (rows × BK_KC) in L2. Panels are the outer loop: a panel's column of C
// tiles (rows × 16) holds the partial sums between K blocks and stays in cache meanwhile.
#ifndef BK_KC
#define BK_KC 512
#endif
// The longest K block: equal block sizes, so no block is a sliver; no split up to 1.5·BK_KC.
#define BK_KC_MAX (BK_KC + BK_KC / 2)

static inline int k_blocks(int k) { return k <= BK_KC_MAX ? 1 : (k + BK_KC - 1) / BK_KC; }

static void BK_FN(bk_gemm)(int m, int n, int k, const float *a, long lda, const float *packed, int flags,
                           float *c, long ldc, int panel_begin, int panel_end) {
    int panels = (n + 15) / 16;
    int act = flags & BK_ACT_GELU, accumulate = (flags & BK_GEMM_ACCUMULATE) != 0;
    const float *bias = packed + (size_t)panels * 16 * (size_t)k;
    if (panel_end > panels) panel_end = panels;
    int blocks = k_blocks(k);
    for (int j = panel_begin; j < panel_end; j++) {
        int cols = n - 16 * j < 16 ? n - 16 * j : 16;
        int p0 = 0;
        for (int blk = 0; blk < blocks; blk++) {
            int p1 = (int)((long)k * (blk + 1) / blocks);
            const float *panel = packed + (size_t)j * 16 * (size_t)k + (size_t)p0 * 16;
            int half = cols <= 8, step = half ? 12 : 6;
            for (int i = 0; i < m; i += step) {
                int rows = m - i < step ? m - i : step;
                const float *ai = a + (size_t)i * lda + p0;
                float *ci = c + (size_t)i * ldc + 16 * j;
                if (half)
                    tile_12x8(p1 - p0, ai, lda, rows, panel, bias + 16 * j, act, ci, ldc, cols, blk == 0 && !accumulate, p1 == k);
                else
                    tile_6x16(p1 - p0, ai, lda, rows, panel, bias + 16 * j, act, ci, ldc, cols, blk == 0 && !accumulate, p1 == k);
            }
            p0 = p1;
        }
    }
}

// The bf16 GEMM, emulated: weights stored as bfloat16 (half the memory and bandwidth), A rounded
// to bfloat16, products exact and sums in Float32 (FMA). A is rounded once per block of
// BK_BF16_ROWS rows × one K block into a stack buffer, and every panel of the call then runs over
// that buffer, so each element of A is rounded once per K block rather than once per panel.
#define BK_BF16_ROWS 12

static void BK_FN(bk_gemm_bf16)(int m, int n, int k, const float *a, long lda, const uint16_t *packed,
                                const float *bias, int flags, float *c, long ldc, int panel_begin, int panel_end) {
    int panels = (n + 15) / 16;
    int act = flags & BK_ACT_GELU, accumulate = (flags & BK_GEMM_ACCUMULATE) != 0;
    if (panel_end > panels) panel_end = panels;
    if (panel_begin >= panel_end) return;
    float rounded[BK_BF16_ROWS * BK_KC_MAX];
    int blocks = k_blocks(k);
    int p0 = 0;
    for (int blk = 0; blk < blocks; blk++) {
        int p1 = (int)((long)k * (blk + 1) / blocks);
        int kc = p1 - p0;
        int first = blk == 0 && !accumulate, last = p1 == k;
        for (int i = 0; i < m; i += BK_BF16_ROWS) {
            int rows = m - i < BK_BF16_ROWS ? m - i : BK_BF16_ROWS;
            for (int r = 0; r < rows; r++) {
                const float *src = a + (size_t)(i + r) * (size_t)lda + p0;
                float *dst = rounded + (size_t)r * (size_t)kc;
                int p = 0;
                for (; p + 8 <= kc; p += 8) st8(dst + p, round8_bf16(ld8(src + p)));
                for (; p < kc; p++) dst[p] = bk_bf16_round(src[p]);
            }
            for (int j = panel_begin; j < panel_end; j++) {
                int cols = n - 16 * j < 16 ? n - 16 * j : 16;
                const uint16_t *panel = packed + (size_t)j * 16 * (size_t)k + (size_t)p0 * 16;
                for (int t = 0; t < rows; t += 6) {
                    int tile_rows = rows - t < 6 ? rows - t : 6;
                    tile_6x16_bf16(kc, rounded + (size_t)t * (size_t)kc, kc, tile_rows, panel, bias + 16 * j, act,
                                   c + (size_t)(i + t) * (size_t)ldc + 16 * j, ldc, cols, first, last);
                }
            }
        }
        p0 = p1;
    }
}

// ---------------------------------------------------------------------------------------------
// LayerNorm rows.

// Given the row's mean: the variance pass and the normalising pass.
static inline __attribute__((always_inline)) void layernorm_row_centered(const float *x, int cols, float mean,
                                                                         const float *w, const float *b,
                                                                         float eps, float *y) {
    int j;
    v8 sq = {0};
    v8 m8 = splat8(mean);
    for (j = 0; j + 8 <= cols; j += 8) {
        v8 d = ld8(x + j) - m8;
        sq = d * d + sq;
    }
    float ss = hsum8(sq);
    for (; j < cols; j++) {
        float d = x[j] - mean;
        ss += d * d;
    }
    // The elementwise builtin is the bare instruction (no errno path, no libm).
    float inv = 1.0f / __builtin_elementwise_sqrt(splat8(ss / (float)cols + eps))[0];
    v8 i8 = splat8(inv);
    for (j = 0; j + 8 <= cols; j += 8) st8(y + j, (ld8(x + j) - m8) * i8 * ld8(w + j) + ld8(b + j));
    for (; j < cols; j++) y[j] = (x[j] - mean) * inv * w[j] + b[j];
}

static inline __attribute__((always_inline)) void layernorm_row(const float *x, int cols, const float *w, const float *b,
                                 float eps, float *y) {
    v8 acc = {0};
    int j = 0;
    for (; j + 8 <= cols; j += 8) acc += ld8(x + j);
    float total = hsum8(acc);
    for (; j < cols; j++) total += x[j];
    layernorm_row_centered(x, cols, total / (float)cols, w, b, eps, y);
}

static void BK_FN(bk_layernorm_rows)(const float *x, long ldx, int rows, int cols, const float *weight,
                              const float *bias, float eps, float *y, long ldy) {
    for (int r = 0; r < rows; r++)
        layernorm_row(x + (size_t)r * ldx, cols, weight, bias, eps, y + (size_t)r * ldy);
}

// ---------------------------------------------------------------------------------------------
// Depthwise 7×7 + LayerNorm. The 7 input rows an output line needs are kept in a ring of
// zero-padded rows laid out channel-group-major ([group][width + 6][8]): the padding makes the
// left/right borders free (no tests in the inner loop), rows outside the image are skipped by the
// ky bounds, each new line copies in just one new row, and a pixel is 32 bytes from the next, so
// every input load is a constant offset folded into its FMA. A tile of XT output pixels × 8
// channels lives in XT registers; per tap one weight vector is loaded and meets XT inputs.

static inline __attribute__((always_inline)) void dw_tile(
    int xt, const float *const *rows, int ky0, int ky1, size_t offset, const float *weight,
    long ldw, v8 bias, float *out, long ldo, int valid, float *sums) {
    v8 acc[8];
    for (int t = 0; t < 8; t++) acc[t] = bias;
    for (int ky = ky0; ky < ky1; ky++) {
        const float *row = rows[ky] + offset;
        const float *wr = weight + (size_t)(ky * 7) * (size_t)ldw;
#pragma clang loop unroll(full)
        for (int kx = 0; kx < 7; kx++) {
            v8 w = ld8(wr + (size_t)kx * (size_t)ldw);
#pragma clang loop unroll(full)
            for (int t = 0; t < 8; t++)
                if (t < xt) acc[t] = ld8(row + 8 * (kx + t)) * w + acc[t];
        }
    }
    // Each pixel's running sum over the channel groups gives the LayerNorm its mean without
    // another pass over the line (lanes past `channels` are exactly 0: zero weights and bias).
    if (valid == xt) {
        for (int t = 0; t < 8; t++)
            if (t < xt) {
                st8(out + (size_t)t * (size_t)ldo, acc[t]);
                st8(sums + 8 * t, ld8(sums + 8 * t) + acc[t]);
            }
    } else {
        for (int t = 0; t < valid; t++) {
            st8(out + (size_t)t * (size_t)ldo, acc[t]);
            st8(sums + 8 * t, ld8(sums + 8 * t) + acc[t]);
        }
    }
}

static inline __attribute__((always_inline)) void dw_line_xt(
    int xt, const float *const *rows, int ky0, int ky1, int width, int groups,
    const float *weight, long ldw, const float *bias, float *out, long ldo, float *sums) {
    // Channel groups outermost: a group's 7 ring rows ((width + 6)·8 floats each) and its 49 weight
    // vectors then stay in L1 while the tiles walk along the line.
    const size_t group_stride = (size_t)(width + 6) * 8;
    for (int g = 0; g < groups; g++) {
        for (int x0 = 0; x0 < width; x0 += xt) {
            int valid = width - x0 < xt ? width - x0 : xt;
            dw_tile(xt, rows, ky0, ky1, (size_t)g * group_stride + (size_t)x0 * 8, weight + 8 * g, ldw,
                    ld8(bias + 8 * g), out + (size_t)x0 * (size_t)ldo + 8 * g, ldo, valid, sums + (size_t)x0 * 8);
        }
    }
}

// Tiles of 7 when the width is a multiple of 7 (RDNet at 224: 56, 28, 14, 7), else of 8.
static void dw_line7(const float *const *rows, int ky0, int ky1, int width, int groups,
                     const float *weight, long ldw, const float *bias, float *out, long ldo, float *sums) {
    dw_line_xt(7, rows, ky0, ky1, width, groups, weight, ldw, bias, out, ldo, sums);
}
static void dw_line8(const float *const *rows, int ky0, int ky1, int width, int groups,
                     const float *weight, long ldw, const float *bias, float *out, long ldo, float *sums) {
    dw_line_xt(8, rows, ky0, ky1, width, groups, weight, ldw, bias, out, ldo, sums);
}

// Copies image row `src` (width pixels `ld` apart) into a padded ring row.
static void dw_load_row(const float *src, int width, long ld, int channels, float *dst) {
    const size_t group_stride = (size_t)(width + 6) * 8;
    int full = channels / 8, rest = channels % 8;
    for (int x = 0; x < width; x++) {
        const float *p = src + (size_t)x * (size_t)ld;
        float *q = dst + (size_t)(x + 3) * 8;
        for (int g = 0; g < full; g++) st8(q + (size_t)g * group_stride, ld8(p + 8 * g));
        for (int j = 0; j < rest; j++) q[(size_t)full * group_stride + j] = p[8 * full + j];
    }
}

static void BK_FN(bk_dwconv7_layernorm)(const float *input, int height, int width, long ld, int channels,
                                 int line_begin, int line_end, const float *weight, long ldw,
                                 const float *conv_bias, const float *ln_weight,
                                 const float *ln_bias, float eps, float *out, long ldo,
                                 float *scratch, bk_ring_state *ring) {
    int groups = (channels + 7) / 8;
    const size_t group_stride = (size_t)(width + 6) * 8;
    const size_t row_floats = (size_t)groups * group_stride;
    if (ring->token != ring->expected_token) {
        // A new layer (or a new pass): the padding pixels and the lanes past `channels` must read
        // as zero, and row copies never write them, so zero just those, once.
        for (int slot = 0; slot < 7; slot++) {
            float *r = scratch + (size_t)slot * row_floats;
            for (int g = 0; g < groups; g++) {
                float *q = r + (size_t)g * group_stride;
                if (8 * g + 8 > channels) {
                    for (size_t j = 0; j < group_stride; j += 8) st8(q + j, (v8){0});
                } else {
                    for (int j = 0; j < 3; j++) {
                        st8(q + 8 * j, (v8){0});
                        st8(q + (size_t)(width + 3 + j) * 8, (v8){0});
                    }
                }
            }
        }
        ring->token = ring->expected_token;
        ring->image = -1;
        ring->begin = ring->end = 0;
    }
    for (int line = line_begin; line < line_end; line++) {
        int n = line / height, y = line % height;
        const float *img = input + (size_t)n * (size_t)height * (size_t)width * (size_t)ld;
        int first = y - 3 < 0 ? 0 : y - 3;
        int last = y + 4 > height ? height : y + 4;
        // The ring holds rows [begin, end) of `image`; a worker moving down the image (the usual
        // case: consecutive chunks) copies in only the rows it has not seen.
        int have = n == ring->image && first >= ring->begin && first <= ring->end;
        int from = have && ring->end > first ? ring->end : first;
        for (int iy = from; iy < last; iy++)
            dw_load_row(img + (size_t)iy * (size_t)width * (size_t)ld, width, ld, channels,
                        scratch + (size_t)(iy % 7) * row_floats);
        if (!have) {
            ring->begin = first;
            ring->end = last;
        } else if (last > ring->end) {
            ring->end = last;
        }
        if (ring->begin < ring->end - 7) ring->begin = ring->end - 7;
        ring->image = n;
        const float *rows[7];
        int ky0 = y < 3 ? 3 - y : 0;
        int ky1 = height - y + 3 < 7 ? height - y + 3 : 7;
        for (int ky = 0; ky < 7; ky++) {
            int iy = y + ky - 3;
            rows[ky] = scratch + (size_t)((iy % 7 + 7) % 7) * row_floats;
        }
        float *o = out + (size_t)(line - line_begin) * (size_t)width * (size_t)ldo;
        float *sums = scratch + 7 * row_floats;  // width × 8: per pixel, 8 lanes of channel sums
        memset(sums, 0, (size_t)width * 8 * sizeof(float));
        if (width % 7 == 0)
            dw_line7(rows, ky0, ky1, width, groups, weight, ldw, conv_bias, o, ldo, sums);
        else
            dw_line8(rows, ky0, ky1, width, groups, weight, ldw, conv_bias, o, ldo, sums);
        for (int x = 0; x < width; x++)
            layernorm_row_centered(o + (size_t)x * (size_t)ldo, channels,
                                   hsum8(ld8(sums + 8 * x)) / (float)channels, ln_weight, ln_bias, eps,
                                   o + (size_t)x * (size_t)ldo);
    }
}

static void BK_FN(bk_scale_columns)(float *x, long ldx, int rows, int cols, const float *scale) {
    for (int r = 0; r < rows; r++) {
        float *row = x + (size_t)r * ldx;
        int j = 0;
        for (; j + 8 <= cols; j += 8) st8(row + j, ld8(row + j) * ld8(scale + j));
        for (; j < cols; j++) row[j] *= scale[j];
    }
}
