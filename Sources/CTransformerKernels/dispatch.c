// Entry points: the AVX2+FMA build when the CPU has it, else the portable one.
#include "CTransformerKernels.h"

#include <stdatomic.h>

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
static int detect(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#define PICK(name, ...) (tk_uses_avx2() ? name##_avx2(__VA_ARGS__) : name##_portable(__VA_ARGS__))
#else
static int detect(void) { return 0; }
#define PICK(name, ...) name##_portable(__VA_ARGS__)
#endif

int tk_uses_avx2(void) {
    // −1 = not yet known; detection is idempotent, so a race only repeats it.
    static atomic_int state = -1;
    int s = atomic_load_explicit(&state, memory_order_relaxed);
    if (s < 0) {
        s = detect();
        atomic_store_explicit(&state, s, memory_order_relaxed);
    }
    return s;
}

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

long tk_fetch_add(long *counter, long value) { return __atomic_fetch_add(counter, value, __ATOMIC_RELAXED); }
