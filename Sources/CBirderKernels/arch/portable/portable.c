// The portable set: the target's baseline instruction set (SSE2 on x86-64, NEON on arm64), the
// same bodies as every other set, vectorised by the compiler.
#define BK_SUFFIX portable
#define TK_SUFFIX portable
#include "../../common/conv_kernels.h"
#include "../../common/transformer_kernels.h"
#include "../../common/kernel_table.h"
#include "../../common/tables.h"

BK_DEFINE_TABLE(bk_table_portable, "portable")
