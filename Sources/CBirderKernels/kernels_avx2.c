// The AVX2+FMA build of the kernels, x86-64 only; `kernels.c` calls it after a CPU check.
#if defined(__x86_64__) || defined(_M_X64)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define BK_SUFFIX avx2
#include "kernels_impl.h"
#pragma clang attribute pop
#else
typedef int bk_avx2_unused;  // keeps the translation unit non-empty elsewhere
#endif
