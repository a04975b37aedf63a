// Exact (erf) GELU over 8 floats, GELU(v) = v/2 · (1 + erf(v/√2)), with erf as the odd/even
// rational approximation on [−4, 4] of Eigen and XLA (erf is ±1 in Float32 beyond): branch-free,
// one division. Shared by the convolution and transformer kernels; each build (AVX2+FMA, portable)
// includes it inside its own target attribute region.
//
// The scaling by 1/√2, the 1/2 and the "1 +" are folded into the coefficients: with x = v clamped
// to ±4√2, erf(x/√2) = 2·x·P(x²)/Q(x²) for P, Q below (Eigen's p(z²)/√2 and 2·q(z²) rescaled to
// z² = x²/2), so GELU(v) = v·(x·P + Q/2)/Q. Two fewer operations per vector than evaluating erf
// and then the GELU: the GELU is 4 % of an RDNet pass (it runs on every bottleneck activation).
// Max |Δ| against the exact GELU: ≤ 1e-6 for |v| < 4, 1.3e-6 up to |v| = 16 (a couple of ulps).
#ifndef CBIRDERKERNELS_GELU_APPROX_H
#define CBIRDERKERNELS_GELU_APPROX_H

typedef float bk_gelu_v8 __attribute__((vector_size(32)));

static inline __attribute__((always_inline)) bk_gelu_v8 bk_gelu8(bk_gelu_v8 v) {
    const float limit = 5.65685424949238f;  // 4·√2
    const bk_gelu_v8 lo = {-limit, -limit, -limit, -limit, -limit, -limit, -limit, -limit};
    const bk_gelu_v8 hi = {limit, limit, limit, limit, limit, limit, limit, limit};
    bk_gelu_v8 x = __builtin_elementwise_min(__builtin_elementwise_max(v, lo), hi);
    bk_gelu_v8 x2 = x * x;
    bk_gelu_v8 p = x2 * -3.01199012050038e-12f + 6.12239882530040e-10f;
    p = x2 * p + -9.28530207850775e-08f;
    p = x2 * p + -5.03151234198254e-06f;
    p = x2 * p + -1.29929214703174e-04f;
    p = x2 * p + -1.04460878015564e-03f;
    p = x2 * p + -1.13816143151900e-02f;
    bk_gelu_v8 q = x2 * -1.82075898081245e-06f + -5.33435138197262e-05f;
    q = x2 * q + -8.41413487191015e-04f;
    q = x2 * q + -7.37332916720468e-03f;
    q = x2 * q + -2.85294781028378e-02f;
    return v * (x * p + 0.5f * q) / q;
}

#endif
