// One core's single-precision FMA peak: 12 independent chains of 8-wide FMAs (enough to cover
// the FMA latency on both pipes), nothing loaded or stored. The ceiling every kernel here is
// compared against (BENCHMARKS.md).
//
//     clang -O2 -mavx2 -mfma tools/bench/fma_peak.c -o /tmp/fma_peak && /tmp/fma_peak
//     (clang, as the kernels are built: GCC 12 keeps the 12 chains in memory and measures ~18.)
//     (/tmp/fma_peak & /tmp/fma_peak; wait)     # both cores at once: does the clock hold?
#include <stdio.h>
#include <time.h>

typedef float v8 __attribute__((vector_size(32)));

int main(void) {
    v8 acc[12];
    for (int j = 0; j < 12; j++) acc[j] = (v8){0} + (float)j * 1e-3f;
    const v8 scale = (v8){0} + 0.999999f, shift = (v8){0} + 1e-7f;
    const long iterations = 400000000;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < iterations; i++) {
        for (int j = 0; j < 12; j++) acc[j] = acc[j] * scale + shift;
        // Keeps the 12 chains in registers and the loop from being folded away.
        __asm__ volatile("" : "+x"(acc[0]), "+x"(acc[1]), "+x"(acc[2]), "+x"(acc[3]), "+x"(acc[4]),
                         "+x"(acc[5]), "+x"(acc[6]), "+x"(acc[7]), "+x"(acc[8]), "+x"(acc[9]),
                         "+x"(acc[10]), "+x"(acc[11]));
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    float sum = 0;
    for (int j = 0; j < 12; j++) sum += acc[j][0];
    printf("%.1f GFLOP/s on one core (checksum %g)\n", (double)iterations * 12 * 16 / seconds / 1e9, sum);
    return 0;
}
