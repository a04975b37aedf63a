// Entry points: pick the AVX2+FMA build when the CPU has it, else the portable one.
#include "CBirderKernels.h"

#include <stdatomic.h>
#include <string.h>

#define DECLARE(suffix)                                                                              \
    void bk_gemm_##suffix(int, int, int, const float *, long, const float *, int, float *, long, int, \
                          int);                                                                      \
    void bk_layernorm_rows_##suffix(const float *, long, int, int, const float *, const float *,     \
                                    float, float *, long);                                           \
    void bk_dwconv7_layernorm_##suffix(const float *, int, int, long, int, int, int, const float *,  \
                                       long, const float *, const float *, const float *, float,    \
                                       float *, long, float *, bk_ring_state *);                     \
    void bk_scale_columns_##suffix(float *, long, int, int, const float *);

DECLARE(portable)

#if defined(__x86_64__) || defined(_M_X64)
DECLARE(avx2)
static int detect(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#define PICK(name, ...) (bk_uses_avx2() ? name##_avx2(__VA_ARGS__) : name##_portable(__VA_ARGS__))
#else
static int detect(void) { return 0; }
#define PICK(name, ...) name##_portable(__VA_ARGS__)
#endif

// -1 unknown; the detection is idempotent, so a race only repeats it.
static atomic_int avx2_state = -1;

int bk_uses_avx2(void) {
    int s = atomic_load_explicit(&avx2_state, memory_order_relaxed);
    if (s < 0) {
        s = detect();
        atomic_store_explicit(&avx2_state, s, memory_order_relaxed);
    }
    return s;
}

void bk_force_portable(int portable) {
    atomic_store_explicit(&avx2_state, portable ? 0 : detect(), memory_order_relaxed);
}

size_t bk_packed_size(int n, int k) {
    size_t padded = (size_t)((n + BK_PANEL - 1) / BK_PANEL) * BK_PANEL;
    return padded * (size_t)k + padded;
}

void bk_pack(const float *w, int n, int k, long ldw, const float *bias, float *packed) {
    int panels = (n + BK_PANEL - 1) / BK_PANEL;
    memset(packed, 0, bk_packed_size(n, k) * sizeof(float));
    for (int j = 0; j < n; j++) {
        float *dst = packed + (size_t)(j / BK_PANEL) * BK_PANEL * (size_t)k + (j % BK_PANEL);
        const float *src = w + (size_t)j * (size_t)ldw;
        for (int p = 0; p < k; p++) dst[(size_t)p * BK_PANEL] = src[p];
    }
    if (bias) memcpy(packed + (size_t)panels * BK_PANEL * (size_t)k, bias, (size_t)n * sizeof(float));
}

void bk_gemm(int m, int n, int k, const float *a, long lda, const float *packed, int act, float *c,
             long ldc, int panel_begin, int panel_end) {
    PICK(bk_gemm, m, n, k, a, lda, packed, act, c, ldc, panel_begin, panel_end);
}

void bk_layernorm_rows(const float *x, long ldx, int rows, int cols, const float *weight,
                       const float *bias, float eps, float *y, long ldy) {
    PICK(bk_layernorm_rows, x, ldx, rows, cols, weight, bias, eps, y, ldy);
}

void bk_dwconv7_layernorm(const float *input, int height, int width, long ld, int channels,
                          int line_begin, int line_end, const float *weight, long ldw,
                          const float *conv_bias, const float *ln_weight, const float *ln_bias,
                          float eps, float *out, long ldo, float *scratch, bk_ring_state *ring) {
    PICK(bk_dwconv7_layernorm, input, height, width, ld, channels, line_begin, line_end, weight, ldw,
         conv_bias, ln_weight, ln_bias, eps, out, ldo, scratch, ring);
}

long bk_next_token(void) {
    static long last = 0;
    return __atomic_add_fetch(&last, 1, __ATOMIC_RELAXED);
}

size_t bk_dwconv7_scratch_size(int width, int channels) {
    // Seven ring rows, then one line of per-pixel channel sums (width × 8).
    return 7 * (size_t)(width + 6) * (size_t)((channels + 7) / 8 * 8) + (size_t)width * 8;
}

void bk_scale_columns(float *x, long ldx, int rows, int cols, const float *scale) {
    PICK(bk_scale_columns, x, ldx, rows, cols, scale);
}

long bk_counter_next(bk_counter *counter) {
    return __atomic_fetch_add(&counter->value, 1, __ATOMIC_RELAXED);
}
