// The portable build of the kernels (baseline instruction set of the target).
#define BK_SUFFIX portable
#include "kernels_impl.h"
