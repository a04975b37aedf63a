// Which kernel sets this build has and this CPU runs, and the helpers every set shares (weight
// packing, the work counter). No state: the CPU check is asked each time a context is made.
#include "CBirderKernels.h"

#include <string.h>

#include "common/bf16.h"
#include "common/tables.h"

#if defined(__x86_64__) || defined(_M_X64)
static int cpu_has_avx2_fma(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

const bk_kernels *bk_kernels_named(const char *name) {
    if (strcmp(name, "portable") == 0) return &bk_table_portable;
#if defined(__x86_64__) || defined(_M_X64)
    if (strcmp(name, "avx2") == 0) return cpu_has_avx2_fma() ? &bk_table_avx2 : NULL;
#endif
    return NULL;
}

const bk_kernels *bk_kernels_best(void) {
    // Fastest first.
    static const char *const order[] = {"avx2", "portable"};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const bk_kernels *table = bk_kernels_named(order[i]);
        if (table) return table;
    }
    return &bk_table_portable;
}

int bk_kernels_supported(const char *name) { return bk_kernels_named(name) != NULL; }

unsigned bk_cpu_features(void) {
    unsigned features = 0;
#if defined(__x86_64__) || defined(_M_X64)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) features |= BK_CPU_AVX2;
    if (__builtin_cpu_supports("fma")) features |= BK_CPU_FMA;
    if (__builtin_cpu_supports("avx512f")) features |= BK_CPU_AVX512F;
    if (__builtin_cpu_supports("avx512bw")) features |= BK_CPU_AVX512BW;
    if (__builtin_cpu_supports("avx512vl")) features |= BK_CPU_AVX512VL;
    if (__builtin_cpu_supports("avx512dq")) features |= BK_CPU_AVX512DQ;
    if (__builtin_cpu_supports("avx512vnni")) features |= BK_CPU_AVX512_VNNI;
    if (__builtin_cpu_supports("avx512bf16")) features |= BK_CPU_AVX512_BF16;
#endif
    return features;
}

size_t bk_packed_size(const bk_kernels *kernels, int n, int k) {
    size_t width = (size_t)kernels->panel_width;
    size_t padded = ((size_t)n + width - 1) / width * width;
    return padded * (size_t)k + padded;
}

void bk_pack(const bk_kernels *kernels, const float *w, int n, int k, long ldw_row, long ldw_col,
             const float *bias, float *packed) {
    size_t width = (size_t)kernels->panel_width;
    size_t panels = ((size_t)n + width - 1) / width;
    memset(packed, 0, bk_packed_size(kernels, n, k) * sizeof(float));
    for (int j = 0; j < n; j++) {
        float *dst = packed + (size_t)j / width * width * (size_t)k + (size_t)j % width;
        const float *src = w + (size_t)j * (size_t)ldw_row;
        for (int p = 0; p < k; p++) dst[(size_t)p * width] = src[(size_t)p * (size_t)ldw_col];
    }
    if (bias) memcpy(packed + panels * width * (size_t)k, bias, (size_t)n * sizeof(float));
}

size_t bk_packed_bf16_size(const bk_kernels *kernels, int n, int k) {
    size_t width = (size_t)kernels->panel_width, group = (size_t)kernels->bf16_k_group;
    size_t padded = ((size_t)n + width - 1) / width * width;
    return padded * (((size_t)k + group - 1) / group * group);
}

void bk_pack_bf16(const bk_kernels *kernels, const float *w, int n, int k, long ldw_row, long ldw_col,
                  uint16_t *packed) {
    size_t width = (size_t)kernels->panel_width, group = (size_t)kernels->bf16_k_group;
    size_t depth = ((size_t)k + group - 1) / group * group;  // K padded to whole groups
    memset(packed, 0, bk_packed_bf16_size(kernels, n, k) * sizeof(uint16_t));
    for (int j = 0; j < n; j++) {
        // Panel j / width; within it, K group p / group holds width columns of `group` values.
        uint16_t *dst = packed + (size_t)j / width * width * depth + (size_t)j % width * group;
        const float *src = w + (size_t)j * (size_t)ldw_row;
        for (int p = 0; p < k; p++)
            dst[(size_t)p / group * width * group + (size_t)p % group] = bk_bf16_from_float(src[(size_t)p * (size_t)ldw_col]);
    }
}

void bk_round_bf16(float *x, long count) {
    for (long i = 0; i < count; i++) x[i] = bk_bf16_round(x[i]);
}

size_t bk_dwconv7_scratch_size(const bk_kernels *kernels, int width, int channels) {
    // Seven ring rows, then one line of per-pixel channel sums (width × vector).
    size_t v = (size_t)kernels->vector_floats;
    return 7 * (size_t)(width + 6) * (((size_t)channels + v - 1) / v * v) + (size_t)width * v;
}

long bk_counter_next(bk_counter *counter) {
    return __atomic_fetch_add(&counter->value, 1, __ATOMIC_RELAXED);
}
