#include "harness/verdict.hpp"

namespace parity::sweep {

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::none: return "";
    case Verdict::baseline: return "baseline";
    case Verdict::bitwise: return "bitwise";
    case Verdict::within_bound: return "within-bound";
    case Verdict::failed: return "failed";
    case Verdict::crashed: return "crashed";
    case Verdict::timeout: return "timeout";
    case Verdict::skipped: return "skipped";
  }
  return "";
}

const char* parity_attribute(Verdict v) {
  return v == Verdict::crashed || v == Verdict::timeout ? "failed" : to_string(v);
}

const char* status_attribute(Verdict v) {
  if (v == Verdict::crashed || v == Verdict::timeout || v == Verdict::skipped) return to_string(v);
  return "ok";
}

std::optional<Verdict> parse_verdict(const std::string& parity, const std::string& status) {
  if (status == "crashed") return Verdict::crashed;
  if (status == "timeout") return Verdict::timeout;
  for (Verdict v : {Verdict::none, Verdict::baseline, Verdict::bitwise, Verdict::within_bound, Verdict::failed,
                    Verdict::skipped})
    if (parity == to_string(v)) return v;
  return std::nullopt;
}

bool is_failure(Verdict v) { return v == Verdict::failed || v == Verdict::crashed || v == Verdict::timeout; }

}  // namespace parity::sweep
