// erf over 8 floats by the odd/even rational approximation on [−4, 4] (Eigen's and XLA's; erf is ±1
// in Float32 beyond): branch-free, one division. Shared by the convolution and transformer kernels;
// each build (AVX2+FMA, portable) includes it inside its own target attribute region.
#ifndef CBIRDERKERNELS_ERF_APPROX_H
#define CBIRDERKERNELS_ERF_APPROX_H

typedef float bk_erf_v8 __attribute__((vector_size(32)));

static inline __attribute__((always_inline)) bk_erf_v8 bk_erf8(bk_erf_v8 x) {
    const bk_erf_v8 lo = {-4, -4, -4, -4, -4, -4, -4, -4}, hi = {4, 4, 4, 4, 4, 4, 4, 4};
    x = __builtin_elementwise_min(__builtin_elementwise_max(x, lo), hi);
    bk_erf_v8 x2 = x * x;
    bk_erf_v8 p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
    p = x2 * p + -2.10102402082508e-06f;
    p = x2 * p + -5.69250639462346e-05f;
    p = x2 * p + -7.34990630326855e-04f;
    p = x2 * p + -2.95459980854025e-03f;
    p = x2 * p + -1.60960333262415e-02f;
    p = x * p;
    bk_erf_v8 q = x2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
    q = x2 * q + -1.68282697438203e-03f;
    q = x2 * q + -7.37332916720468e-03f;
    q = x2 * q + -1.42647390514189e-02f;
    return p / q;
}

#endif
