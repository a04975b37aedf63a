// Entry points: the AVX2+FMA build when the CPU has it, else the portable one.
#include "CBirderKernels.h"


#define DECLARE(suffix)                                                                             \
    void tk_softmax_rows_##suffix(float *, long, int, int, float);                                  \
    void tk_bias_gelu_rows_##suffix(float *, long, int, int, const float *, int);                   \
    void tk_residual_layernorm_rows_##suffix(float *, long, int, int, const float *, long,          \
                                             const float *, const float *, const float *,           \
                                             const float *, float, float *, long);                  \
    void tk_exp_##suffix(float *, long);

DECLARE(portable)

#if defined(__x86_64__) || defined(_M_X64)
DECLARE(avx2)
#define PICK(name, ...) (bk_uses_avx2() ? name##_avx2(__VA_ARGS__) : name##_portable(__VA_ARGS__))
#else
#define PICK(name, ...) name##_portable(__VA_ARGS__)
#endif

void tk_softmax_rows(float *x, long ld, int rows, int cols, float scale) {
    PICK(tk_softmax_rows, x, ld, rows, cols, scale);
}

void tk_bias_gelu_rows(float *x, long ld, int rows, int cols, const float *bias, int kind) {
    PICK(tk_bias_gelu_rows, x, ld, rows, cols, bias, kind);
}

void tk_residual_layernorm_rows(float *x, long ldx, int rows, int cols, const float *branch, long ldb,
                                const float *bias, const float *gamma, const float *ln_weight,
                                const float *ln_bias, float eps, float *out, long ldo) {
    PICK(tk_residual_layernorm_rows, x, ldx, rows, cols, branch, ldb, bias, gamma, ln_weight, ln_bias, eps,
         out, ldo);
}

void tk_exp(float *x, long count) { PICK(tk_exp, x, count); }

