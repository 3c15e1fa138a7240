#include "reference/fault_injection.hpp"

#include <cerrno>
#include <chrono>
#include <thread>
#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/error.hpp"

namespace parity {

namespace {
std::vector<std::string> split(const std::string& s, char sep, size_t parts) {
  std::vector<std::string> out;
  size_t at = 0;
  while (out.size() + 1 < parts) {
    const size_t z = s.find(sep, at);
    if (z == std::string::npos) break;
    out.push_back(s.substr(at, z - at));
    at = z + 1;
  }
  out.push_back(s.substr(at));
  return out;
}

// A whole decimal number in [lo, hi], or a parity::Error naming the flag and the field.
long whole(const std::string& text, long lo, long hi, const std::string& flag, const std::string& field) {
  char* end = nullptr;
  errno = 0;
  const long v = text.empty() ? 0 : std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE || v < lo || v > hi)
    throw Error(flag + ": " + field + " must be a whole number in [" + std::to_string(lo) + ", " +
                std::to_string(hi) + "], got '" + text + "'");
  return v;
}
}  // namespace

FaultInjection FaultInjection::parse(const std::string& overflow, const std::string& bitflip, const std::string& stall,
                                     int world_size) {
  FaultInjection f;
  const long max_rank = world_size > 0 ? world_size - 1 : (1L << 30);
  if (!overflow.empty()) {
    const auto p = split(overflow, ':', 2);
    if (p.size() != 2) throw Error("--inject-overflow wants STEP:RANK, got '" + overflow + "'");
    f.overflow_step_ = whole(p[0], 1, 1L << 40, "--inject-overflow", "STEP");
    f.overflow_rank_ = static_cast<int>(whole(p[1], 0, max_rank, "--inject-overflow", "RANK (a world rank)"));
  }
  if (!bitflip.empty()) {
    const auto p = split(bitflip, ':', 3);
    if (p.size() != 3 || p[2].empty()) throw Error("--inject-bitflip wants STEP:RANK:TENSOR, got '" + bitflip + "'");
    f.bitflip_step_ = whole(p[0], 1, 1L << 40, "--inject-bitflip", "STEP");
    f.bitflip_rank_ = static_cast<int>(whole(p[1], 0, max_rank, "--inject-bitflip", "RANK (a world rank)"));
    f.bitflip_tensor_ = p[2];
  }
  if (!stall.empty()) {
    const auto p = split(stall, ':', 2);
    if (p.size() != 2) throw Error("--inject-stall wants STEP:RANK, got '" + stall + "'");
    f.stall_step_ = whole(p[0], 1, 1L << 40, "--inject-stall", "STEP");
    f.stall_rank_ = static_cast<int>(whole(p[1], 0, max_rank, "--inject-stall", "RANK (a world rank)"));
  }
  return f;
}

void FaultInjection::stall(long step, int world_rank) const {
  if (step == stall_step_ && world_rank == stall_rank_) std::this_thread::sleep_for(std::chrono::hours(1));
}

void FaultInjection::overflow(long step, int world_rank, float* grads, const Ownership& own) const {
  if (step == overflow_step_ && world_rank == overflow_rank_) grads[own.ranges.front().lo] = INFINITY;
}

void FaultInjection::bitflip(long step, int world_rank, const LocalLayout& lay, float* params) const {
  if (step != bitflip_step_ || world_rank != bitflip_rank_) return;
  const LocalTensor* t = lay.find(bitflip_tensor_);
  if (!t) throw Error("--inject-bitflip: world rank " + std::to_string(world_rank) + " holds no " + bitflip_tensor_);
  uint32_t bits;
  std::memcpy(&bits, &params[t->offset], 4);
  bits ^= 1u;
  std::memcpy(&params[t->offset], &bits, 4);
}

}  // namespace parity
