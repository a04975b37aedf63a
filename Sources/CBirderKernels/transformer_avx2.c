// The AVX2+FMA build, x86-64 only; transformer_dispatch.c calls it after a CPU check.
#if defined(__x86_64__) || defined(_M_X64)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define TK_SUFFIX avx2
#include "transformer_impl.h"
#pragma clang attribute pop
#else
typedef int tk_avx2_unused;  // keeps the translation unit non-empty elsewhere
#endif
