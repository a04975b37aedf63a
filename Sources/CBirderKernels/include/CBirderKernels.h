// Hot loops of the CPU engine in C, one table of function pointers per instruction set.
//
// Every kernel is single-threaded: the Swift side owns the threads (its compute context) and
// hands each worker a disjoint range. A table is chosen once, when a compute context is made
// (`bk_kernels_named`, `bk_kernels_best`), and passed down; nothing here keeps mutable state.
//
// Sets (arch/<set>/): portable (the target's baseline; the compiler vectorises it for SSE2 or
// NEON) and x86_avx2 (AVX2 + FMA). An AVX-512, AVX-512-BF16 or NEON set is one more folder that
// fills the same table and one more line in select.c; its packing width goes in `panel_width`.
//
// Two precisions: fp32 (`gemm` over Float32 panels) and bf16 (`gemm_bf16` over bfloat16 panels,
// `bk_pack_bf16`; A rounded to bfloat16, products summed in Float32). Both sets here emulate the
// bf16 products with Float32 FMAs (`bf16_native` 0); a set with AVX-512-BF16 would run them with
// `vdpbf16ps`, with its own panel layout (`bf16_k_group` 2: pairs of K interleaved).
#ifndef CBIRDERKERNELS_H
#define CBIRDERKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// GEMM flags: the activation in the low bit, accumulation onto C in the next one.
enum { BK_ACT_NONE = 0, BK_ACT_GELU = 1, BK_GEMM_ACCUMULATE = 2 };
/// Transformer GELU kinds.
enum { TK_GELU_EXACT = 0, TK_GELU_QUICK = 1 };

/// Where a worker's depthwise-conv row ring stands, so consecutive chunks of one layer reuse the
/// rows already copied in. Set `expected_token` to a new value for every layer call (all workers
/// the same); the kernel re-initialises the ring when `token` differs.
typedef struct {
    long token;
    long expected_token;
    int image, begin, end;
} bk_ring_state;

/// One instruction set's kernels. Packed weights (`bk_pack`) are laid out for one table's
/// `panel_width`: a model packed for one table runs only with tables of the same width.
typedef struct bk_kernels {
    /// "portable", "avx2".
    const char *name;
    /// Floats per vector register in these kernels (depthwise taps and bias are padded to it).
    int vector_floats;
    /// Output columns per packed weight panel.
    int panel_width;
    /// 1 when `gemm_bf16` multiplies with bf16 instructions of the CPU, 0 when it emulates them.
    int bf16_native;
    /// Consecutive K values stored together per column in bf16 panels (1: panels are K rows of
    /// `panel_width` values, as the Float32 ones).
    int bf16_k_group;

    /// c[i·ldc + j] = act(Σ_p a[i·lda + p] · w[j, p] + bias[j]) (+ c[i·ldc + j] with
    /// BK_GEMM_ACCUMULATE) for i < m and the columns of panels [panel_begin, panel_end). GELU is
    /// the exact (erf) form.
    void (*gemm)(int m, int n, int k, const float *a, long lda, const float *packed, int flags, float *c,
                 long ldc, int panel_begin, int panel_end);

    /// `gemm` for weights packed by `bk_pack_bf16`: A is rounded to bfloat16 (round to nearest
    /// even), each product of two bfloat16 values is summed in Float32; `bias` (fp32, whole
    /// panels of it, zero-padded) and the epilogue as in `gemm`.
    void (*gemm_bf16)(int m, int n, int k, const float *a, long lda, const uint16_t *packed, const float *bias,
                      int flags, float *c, long ldc, int panel_begin, int panel_end);

    /// LayerNorm over `cols` values of each of `rows` rows (Float32 statistics, two-pass
    /// variance). `y` may alias `x` when the strides match.
    void (*layernorm_rows)(const float *x, long ldx, int rows, int cols, const float *weight,
                           const float *bias, float eps, float *y, long ldy);

    /// Depthwise 7×7 convolution (padding 3, stride 1, with bias) of `channels` channels of an
    /// NHWC batch whose pixels are `ld` floats apart, for image lines [line_begin, line_end)
    /// counted over the batch (line = n·height + y), then LayerNorm over the channels of each
    /// output pixel. `weight` is 49 taps (ky·7 + kx) of `ldw` floats and `conv_bias` has
    /// round_up(channels, vector_floats) floats, both zero past `channels`. Output pixel x of line
    /// line_begin + l goes to out[(l·width + x)·ldo], ldo ≥ the padded channel count (padding
    /// lanes are written too). `scratch` holds `bk_dwconv7_scratch_size` floats; it and `ring`
    /// belong to one worker and persist across that worker's calls for one layer. Float32 in both
    /// precisions (see `Precision`).
    void (*dwconv7_layernorm)(const float *input, int height, int width, long ld, int channels,
                              int line_begin, int line_end, const float *weight, long ldw,
                              const float *conv_bias, const float *ln_weight, const float *ln_bias,
                              float eps, float *out, long ldo, float *scratch, bk_ring_state *ring);

    /// x[r·ldx + j] *= scale[j] for r < rows, j < cols.
    void (*scale_columns)(float *x, long ldx, int rows, int cols, const float *scale);

    /// x[r·ld + j] ← softmax_j(scale · x[r·ld + ·]) for r < rows, j < cols, max-subtracted.
    void (*softmax_rows)(float *x, long ld, int rows, int cols, float scale);

    /// x[r·ld + j] ← act(x[r·ld + j] + bias[j]) (bias may be NULL); TK_GELU_EXACT:
    /// ½x(1 + erf(x/√2)), TK_GELU_QUICK: x·σ(1.702x).
    void (*bias_gelu_rows)(float *x, long ld, int rows, int cols, const float *bias, int kind);

    /// For each row r < rows:
    ///   x[r] ← x[r] + gamma ⊙ (branch[r] + bias)   (branch, bias, gamma each optional: NULL = 0, 0, 1)
    ///   out[r] ← (x[r] − mean) / √(var + eps) ⊙ ln_weight + ln_bias   (only when ln_weight is set)
    /// Rows are `ldx`, `ldb`, `ldo` floats apart; `out` must not overlap `x` unless out == x.
    void (*residual_layernorm_rows)(float *x, long ldx, int rows, int cols, const float *branch, long ldb,
                                    const float *bias, const float *gamma, const float *ln_weight,
                                    const float *ln_bias, float eps, float *out, long ldo);

    /// e^x for `count` floats in place (the softmax's exponential, exposed for tests).
    void (*exp)(float *x, long count);
} bk_kernels;

/// The table of a set by name ("portable", "avx2"), or NULL when this build lacks it or the CPU
/// cannot run it.
const bk_kernels *bk_kernels_named(const char *name);
/// The fastest set this CPU runs.
const bk_kernels *bk_kernels_best(void);
/// 1 when this build has the set and the CPU runs it.
int bk_kernels_supported(const char *name);

/// Instruction-set extensions of this CPU that kernel sets use or could use (x86-64; 0 elsewhere).
enum {
    BK_CPU_AVX2 = 1 << 0,
    BK_CPU_FMA = 1 << 1,
    BK_CPU_AVX512F = 1 << 2,
    BK_CPU_AVX512BW = 1 << 3,
    BK_CPU_AVX512VL = 1 << 4,
    BK_CPU_AVX512DQ = 1 << 5,
    BK_CPU_AVX512_VNNI = 1 << 6,
    BK_CPU_AVX512_BF16 = 1 << 7,
};
/// The BK_CPU_* bits this CPU has.
unsigned bk_cpu_features(void);

/// Floats `bk_pack` writes for a linear map with `n` outputs and `k` inputs under `kernels`:
/// k·n weights in panels, plus the bias padded to whole panels.
size_t bk_packed_size(const bk_kernels *kernels, int n, int k);

/// Packs `w` (n rows of k inputs: w[j, p] at w[j·ldw_row + p·ldw_col], so PyTorch's out×in layout
/// is ldw_col = 1) and `bias` (n values, or NULL for zeros) into `kernels`' panel layout.
/// Padding columns are zero.
void bk_pack(const bk_kernels *kernels, const float *w, int n, int k, long ldw_row, long ldw_col,
             const float *bias, float *packed);

/// bfloat16 values `bk_pack_bf16` writes for `n` outputs and `k` inputs under `kernels` (the
/// bias is kept apart, in Float32, zero-padded to whole panels).
size_t bk_packed_bf16_size(const bk_kernels *kernels, int n, int k);

/// Packs `w` (as `bk_pack` reads it) rounded to bfloat16 into `kernels`' bf16 panel layout;
/// padding columns (and K padding of a K group) are zero.
void bk_pack_bf16(const bk_kernels *kernels, const float *w, int n, int k, long ldw_row, long ldw_col,
                  uint16_t *packed);

/// Rounds `count` floats in place to the nearest bfloat16 (ties to even), kept as Float32 (the
/// rounding `gemm_bf16` applies to A, exposed for tests).
void bk_round_bf16(float *x, long count);

/// Floats of scratch `dwconv7_layernorm` needs for an image `width` pixels wide.
size_t bk_dwconv7_scratch_size(const bk_kernels *kernels, int width, int channels);

/// Atomic counter for handing out work between the Swift workers.
typedef struct { long value; } bk_counter;
/// Returns the counter's value and adds 1.
long bk_counter_next(bk_counter *counter);

#ifdef __cplusplus
}
#endif

#endif
