// The tables the arch/ folders define; select.c hands them out.
#ifndef CBIRDERKERNELS_TABLES_H
#define CBIRDERKERNELS_TABLES_H

#include "CBirderKernels.h"

extern const bk_kernels bk_table_portable;
#if defined(__x86_64__) || defined(_M_X64)
extern const bk_kernels bk_table_avx2;
#endif

#endif
