// Hot loops of the CPU engine in C: a GEMM over pre-packed weights with fused epilogues, LayerNorm
// rows, and the depthwise 7×7 convolution. Every function is single-threaded (the Swift side owns
// the threads) and has two builds on x86-64: AVX2+FMA, chosen at run time by a CPU check, and a
// portable one; other architectures get the portable build (the compiler vectorises it for NEON).
#ifndef CBIRDERKERNELS_H
#define CBIRDERKERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when the AVX2+FMA build is in use.
int bk_uses_avx2(void);
/// Tests: 1 routes every call to the portable build, 0 back to the CPU check's choice.
void bk_force_portable(int portable);

/// Output columns per packed panel.
#define BK_PANEL 16

/// Floats needed by `bk_pack` for a linear map with `n` outputs and `k` inputs: k·n weights in
/// panels of 16 outputs, plus the bias padded to a multiple of 16.
size_t bk_packed_size(int n, int k);

/// Packs `w` (n rows of k inputs, row stride `ldw`: PyTorch's out×in layout) and `bias` (n values,
/// or NULL for zeros) into the panel layout `bk_gemm` reads. Padding columns are zero.
void bk_pack(const float *w, int n, int k, long ldw, const float *bias, float *packed);

enum { BK_ACT_NONE = 0, BK_ACT_GELU = 1 };

/// c[i·ldc + j] = act(Σ_p a[i·lda + p] · w[j, p] + bias[j]) for i < m and j in the panels
/// [panel_begin, panel_end) (columns 16·panel … min(n, 16·panel + 16)). GELU is the exact (erf) form.
void bk_gemm(int m, int n, int k, const float *a, long lda, const float *packed, int act,
             float *c, long ldc, int panel_begin, int panel_end);

/// LayerNorm over `cols` values of each of `rows` rows (Float32 statistics, two-pass variance).
/// `y` may alias `x` when the strides match.
void bk_layernorm_rows(const float *x, long ldx, int rows, int cols, const float *weight,
                       const float *bias, float eps, float *y, long ldy);

/// Where a worker's depthwise-conv row ring stands, so consecutive chunks of one layer reuse the
/// rows already copied in. Set `expected_token` to a fresh `bk_next_token()` for every layer call
/// (all workers the same); the kernel re-initialises the ring when `token` differs.
typedef struct {
    long token;
    long expected_token;
    int image, begin, end;
} bk_ring_state;

/// A process-wide unique, increasing token (never 0).
long bk_next_token(void);

/// Depthwise 7×7 convolution (padding 3, stride 1, with bias) of `channels` channels of an NHWC
/// batch whose pixels are `ld` floats apart, for image lines [line_begin, line_end) counted over
/// the batch (line = n·height + y), then LayerNorm over the channels of each output pixel.
/// `weight` is 49 taps (ky·7 + kx) of `ldw` floats and `conv_bias` has round8(channels) floats,
/// both zero past `channels`. Output pixel x of line line_begin + l goes to
/// out[(l·width + x)·ldo], with ldo ≥ round8(channels) (the padding lanes are written too).
/// `scratch` holds `bk_dwconv7_scratch_size(width, channels)` floats; it and `ring` belong to
/// one worker and persist across that worker's calls for one layer.
void bk_dwconv7_layernorm(const float *input, int height, int width, long ld, int channels,
                          int line_begin, int line_end, const float *weight, long ldw,
                          const float *conv_bias, const float *ln_weight, const float *ln_bias,
                          float eps, float *out, long ldo, float *scratch, bk_ring_state *ring);
size_t bk_dwconv7_scratch_size(int width, int channels);

/// x[r·ldx + j] *= scale[j] for r < rows, j < cols.
void bk_scale_columns(float *x, long ldx, int rows, int cols, const float *scale);

/// Atomic counter for handing out work between the Swift workers.
typedef struct { long value; } bk_counter;
/// Returns the counter's value and adds 1.
long bk_counter_next(bk_counter *counter);

#ifdef __cplusplus
}
#endif

// Transformer element-wise kernels (softmax, bias+GELU, residual+LayerNorm).
#include "transformer_kernels.h"

#endif
