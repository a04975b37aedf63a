// The AVX2 + FMA set (x86-64 only): the common bodies compiled for AVX2, so `a * b + c` becomes
// one FMA and an 8-float vector one register. select.c offers it only when the CPU has both.
#if defined(__x86_64__) || defined(_M_X64)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define BK_SUFFIX avx2
#define TK_SUFFIX avx2
#include "../../common/conv_kernels.h"
#include "../../common/transformer_kernels.h"
#pragma clang attribute pop
#include "../../common/kernel_table.h"
#include "../../common/tables.h"

BK_DEFINE_TABLE(bk_table_avx2, "avx2")
#else
typedef int bk_avx2_unused;  // keeps the translation unit non-empty elsewhere
#endif
