// The portable build (the target's baseline instruction set).
#define TK_SUFFIX portable
#include "impl.h"
