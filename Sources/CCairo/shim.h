// Cairo (Debian: libcairo2-dev), for the PNG and PDF renderings of reports: image and PDF surfaces,
// written through stream callbacks so the output goes through the project's atomic writer.
#include <cairo.h>
#include <cairo-pdf.h>
