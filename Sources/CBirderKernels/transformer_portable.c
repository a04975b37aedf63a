// The portable build (the target's baseline instruction set).
#define TK_SUFFIX portable
#include "transformer_impl.h"
