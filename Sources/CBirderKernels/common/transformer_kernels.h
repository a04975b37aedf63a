// The kernels' bodies, compiled once per instruction set: the including file defines TK_SUFFIX
// (the set's suffix) and any target attributes; kernel_table.h then puts them in a table.
// 8-float clang/GCC vector extensions; `a * b + c` contracts to FMA where the target has it.
#include <string.h>

#pragma clang diagnostic ignored "-Wpsabi"  // helpers taking vectors by value are always inlined

#define TK_CAT2(a, b) a##_##b
#define TK_CAT(a, b) TK_CAT2(a, b)
#define TK_FN(name) TK_CAT(name, TK_SUFFIX)
#define TK_INLINE static inline __attribute__((always_inline))

typedef float tk_v8 __attribute__((vector_size(32)));
#include "gelu_approx.h"
typedef int tk_i8 __attribute__((vector_size(32)));

TK_INLINE tk_v8 TK_FN(ld)(const float *p) { tk_v8 v; memcpy(&v, p, sizeof v); return v; }
TK_INLINE void TK_FN(st)(float *p, tk_v8 v) { memcpy(p, &v, sizeof v); }
TK_INLINE tk_v8 TK_FN(splat)(float x) { return (tk_v8){x, x, x, x, x, x, x, x}; }
TK_INLINE float TK_FN(hsum)(tk_v8 v) { return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7])); }
TK_INLINE float TK_FN(hmax)(tk_v8 v) {
    float a = v[0] > v[4] ? v[0] : v[4], b = v[1] > v[5] ? v[1] : v[5];
    float c = v[2] > v[6] ? v[2] : v[6], d = v[3] > v[7] ? v[3] : v[7];
    a = a > b ? a : b;
    c = c > d ? c : d;
    return a > c ? a : c;
}

// e^x to ~1 ulp (Cephes' expf): x = n·ln2 + r, ln2 split in two parts, degree-6 polynomial in r,
// 2^n put in the exponent bits. n = round(x·log2 e) by adding 1.5·2^23, which leaves n in the
// low mantissa bits of the sum (no float→int conversion). Inputs are clamped to [−87.3, 88.3]:
// below, the result is ≈1e−38 instead of 0 (invisible in a softmax).
TK_INLINE tk_v8 TK_FN(exp8)(tk_v8 x) {
    x = __builtin_elementwise_min(__builtin_elementwise_max(x, TK_FN(splat)(-87.3f)), TK_FN(splat)(88.3f));
    tk_v8 t = x * 1.44269504088896341f + 12582912.0f;
    tk_v8 n = t - 12582912.0f;
    tk_v8 r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    tk_v8 p = r * 1.9875691500e-4f + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    tk_v8 y = p * (r * r) + r + 1.0f;
    tk_i8 bits;
    memcpy(&bits, &t, sizeof bits);
    bits = (bits - 0x4B400000 + 127) << 23;
    tk_v8 scale;
    memcpy(&scale, &bits, sizeof scale);
    return y * scale;
}

TK_INLINE tk_v8 TK_FN(gelu8)(tk_v8 v, int kind) {
    if (kind == 1) return v / (1.0f + TK_FN(exp8)(v * -1.702f));
    return bk_gelu8(v);  // gelu_approx.h, shared with the convolution kernels
}

static void TK_FN(tk_exp)(float *x, long count) {
    long i = 0;
    for (; i + 8 <= count; i += 8) TK_FN(st)(x + i, TK_FN(exp8)(TK_FN(ld)(x + i)));
    if (i < count) {
        float tail[8] = {0};
        memcpy(tail, x + i, (size_t)(count - i) * sizeof(float));
        TK_FN(st)(tail, TK_FN(exp8)(TK_FN(ld)(tail)));
        memcpy(x + i, tail, (size_t)(count - i) * sizeof(float));
    }
}

static void TK_FN(tk_softmax_rows)(float *x, long ld, int rows, int cols, float scale) {
    for (int r = 0; r < rows; r++) {
        float *y = x + (long)r * ld;
        int j = 0;
        tk_v8 m = TK_FN(splat)(-__builtin_inff());
        for (; j + 8 <= cols; j += 8) m = __builtin_elementwise_max(m, TK_FN(ld)(y + j));
        float maximum = TK_FN(hmax)(m);
        for (; j < cols; j++) maximum = y[j] > maximum ? y[j] : maximum;
        // exp(scale·(y − max)), as PyTorch computes the scaled softmax
        tk_v8 s8 = TK_FN(splat)(scale), m8 = TK_FN(splat)(maximum), acc = {0};
        for (j = 0; j + 8 <= cols; j += 8) {
            tk_v8 e = TK_FN(exp8)((TK_FN(ld)(y + j) - m8) * s8);
            TK_FN(st)(y + j, e);
            acc += e;
        }
        float total = TK_FN(hsum)(acc);
        if (j < cols) {
            float tail[8];
            int n = cols - j;
            for (int t = 0; t < 8; t++) tail[t] = t < n ? (y[j + t] - maximum) * scale : -100.0f;
            tk_v8 e = TK_FN(exp8)(TK_FN(ld)(tail));
            for (int t = 0; t < n; t++) {
                y[j + t] = e[t];
                total += e[t];
            }
        }
        tk_v8 inv = TK_FN(splat)(1.0f / total);
        for (j = 0; j + 8 <= cols; j += 8) TK_FN(st)(y + j, TK_FN(ld)(y + j) * inv);
        for (; j < cols; j++) y[j] *= inv[0];
    }
}

static void TK_FN(tk_bias_gelu_rows)(float *x, long ld, int rows, int cols, const float *bias, int kind) {
    for (int r = 0; r < rows; r++) {
        float *y = x + (long)r * ld;
        int j = 0;
        for (; j + 8 <= cols; j += 8) {
            tk_v8 v = TK_FN(ld)(y + j);
            if (bias) v += TK_FN(ld)(bias + j);
            TK_FN(st)(y + j, TK_FN(gelu8)(v, kind));
        }
        for (; j < cols; j++) {
            float v = y[j] + (bias ? bias[j] : 0.0f);
            y[j] = TK_FN(gelu8)(TK_FN(splat)(v), kind)[0];
        }
    }
}

static void TK_FN(tk_residual_layernorm_rows)(float *x, long ldx, int rows, int cols, const float *branch, long ldb,
                                       const float *bias, const float *gamma, const float *ln_weight,
                                       const float *ln_bias, float eps, float *out, long ldo) {
    for (int r = 0; r < rows; r++) {
        float *y = x + (long)r * ldx;
        const float *b = branch ? branch + (long)r * ldb : 0;
        int j;
        if (b || bias) {
            for (j = 0; j + 8 <= cols; j += 8) {
                tk_v8 u = b ? TK_FN(ld)(b + j) : TK_FN(splat)(0.0f);
                if (bias) u += TK_FN(ld)(bias + j);
                if (gamma) u *= TK_FN(ld)(gamma + j);
                TK_FN(st)(y + j, TK_FN(ld)(y + j) + u);
            }
            for (; j < cols; j++) {
                float u = (b ? b[j] : 0.0f) + (bias ? bias[j] : 0.0f);
                if (gamma) u *= gamma[j];
                y[j] += u;
            }
        }
        if (!ln_weight) continue;
        // Float32 statistics with a two-pass variance, as PyTorch's CPU LayerNorm.
        tk_v8 acc = {0};
        for (j = 0; j + 8 <= cols; j += 8) acc += TK_FN(ld)(y + j);
        float total = TK_FN(hsum)(acc);
        for (; j < cols; j++) total += y[j];
        float mean = total / (float)cols;
        tk_v8 m8 = TK_FN(splat)(mean), sq = {0};
        for (j = 0; j + 8 <= cols; j += 8) {
            tk_v8 d = TK_FN(ld)(y + j) - m8;
            sq = d * d + sq;
        }
        float ss = TK_FN(hsum)(sq);
        for (; j < cols; j++) ss += (y[j] - mean) * (y[j] - mean);
        float inv = 1.0f / __builtin_elementwise_sqrt(TK_FN(splat)(ss / (float)cols + eps))[0];
        tk_v8 i8 = TK_FN(splat)(inv);
        float *o = out + (long)r * ldo;
        for (j = 0; j + 8 <= cols; j += 8)
            TK_FN(st)(o + j, (TK_FN(ld)(y + j) - m8) * i8 * TK_FN(ld)(ln_weight + j) + TK_FN(ld)(ln_bias + j));
        for (; j < cols; j++) o[j] = (y[j] - mean) * inv * ln_weight[j] + ln_bias[j];
    }
}
