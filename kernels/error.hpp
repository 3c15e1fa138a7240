// One exception type for every user-facing failure: bad flags, bad files, numerical blow-ups.
// The CLI catches it, prints "parity: error: <what>" and exits non-zero.
#pragma once
#include <stdexcept>
#include <string>

namespace parity {
struct Error : std::runtime_error {
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};
}  // namespace parity
