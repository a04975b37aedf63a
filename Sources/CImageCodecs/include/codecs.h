#pragma once
// C shims over libjpeg-turbo, libpng and libwebp (setjmp-based error handling lives here, not in Swift).
