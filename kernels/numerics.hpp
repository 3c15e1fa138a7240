// The two numerics of every reduction (docs/design.md, canonical order): `exact` follows the canonical order
// and is bit-reproducible on every layout; `fast` uses BLAS and the communication library's own reductions.
#pragma once
#include <string>

namespace parity {

enum class Numerics { exact, fast };

inline const char* to_string(Numerics n) { return n == Numerics::exact ? "exact" : "fast"; }

}  // namespace parity
