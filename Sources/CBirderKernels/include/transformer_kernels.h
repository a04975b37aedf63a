// Element-wise steps of a transformer block in C: row softmax with a fused scale, bias + GELU,
// and the residual update fused with the next LayerNorm. Every function is single-threaded (the
// Swift side owns the threads) and exists twice on x86-64: an AVX2+FMA build chosen at run time
// (`bk_uses_avx2`) and a portable one (the only one elsewhere). C rather than Swift SIMD: Swift's generic SIMD
// operations are 100–1000× slower unoptimised (debug test builds) and some (rounding, float→int
// conversion) stay slow in release; clang's vector extensions are fast in both.
#ifndef CBIRDERKERNELS_TRANSFORMER_H
#define CBIRDERKERNELS_TRANSFORMER_H

#ifdef __cplusplus
extern "C" {
#endif

/// x[r·ld + j] ← softmax_j(scale · x[r·ld + ·]) for r < rows, j < cols, max-subtracted.
void tk_softmax_rows(float *x, long ld, int rows, int cols, float scale);

enum { TK_GELU_EXACT = 0, TK_GELU_QUICK = 1 };

/// x[r·ld + j] ← act(x[r·ld + j] + bias[j]) (bias may be NULL); exact: ½x(1 + erf(x/√2)),
/// quick: x·σ(1.702x).
void tk_bias_gelu_rows(float *x, long ld, int rows, int cols, const float *bias, int kind);

/// For each row r < rows:
///   x[r] ← x[r] + gamma ⊙ (branch[r] + bias)   (branch, bias, gamma each optional: NULL = 0, 0, 1)
///   out[r] ← (x[r] − mean) / √(var + eps) ⊙ ln_weight + ln_bias   (only when ln_weight is not NULL)
/// Rows are `ldx`, `ldb`, `ldo` floats apart; `out` must not overlap `x` unless out == x.
void tk_residual_layernorm_rows(float *x, long ldx, int rows, int cols, const float *branch, long ldb,
                                const float *bias, const float *gamma, const float *ln_weight,
                                const float *ln_bias, float eps, float *out, long ldo);

/// e^x for `count` floats in place (the softmax's exponential, exposed for tests).
void tk_exp(float *x, long count);

#ifdef __cplusplus
}
#endif

#endif
