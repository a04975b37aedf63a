// Zstandard's one-shot API (Debian: libzstd-dev), for reading zstd-compressed Parquet pages.
#include <zstd.h>
