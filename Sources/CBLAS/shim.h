// OpenBLAS's CBLAS interface (Debian: libopenblas-dev). On macOS the Swift code uses Accelerate instead.
#include <cblas.h>
// Lets the engine pin BLAS to the thread count it was asked for.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
