// version.hpp: the version strop-milter reports (X-Scanned-By, --version, logs), taken
// from the CMake project version.
#pragma once

namespace strop::milter {

#ifndef STROP_VERSION
#define STROP_VERSION "0.0.0"
#endif
inline constexpr const char* kVersion = STROP_VERSION;

}  // namespace strop::milter
