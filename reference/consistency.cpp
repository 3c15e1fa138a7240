#include "reference/consistency.hpp"

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "kernels/error.hpp"

namespace parity {

namespace {
uint64_t hash_bits(const float* x, long n) {
  uint64_t h = 0xcbf29ce484222325ull;
  const auto* b = reinterpret_cast<const unsigned char*>(x);
  for (long i = 0; i < n * 4; ++i) { h ^= b[i]; h *= 0x100000001b3ull; }
  return h;
}

// All-gathers one 64-bit value per entry over the group (as pairs of floats: the bits travel unchanged).
std::vector<uint64_t> gather_hashes(Communicator& comm, const std::vector<uint64_t>& mine) {
  const long n = static_cast<long>(mine.size());
  std::vector<float> in(2 * n), out(2 * n * comm.size());
  std::memcpy(in.data(), mine.data(), n * 8);
  comm.all_gather(in.data(), out.data(), std::vector<long>(comm.size(), 2 * n));
  std::vector<uint64_t> all(n * comm.size());
  std::memcpy(all.data(), out.data(), all.size() * 8);
  return all;
}

// world rank of member `r` of a group, by the grid's rank formula
int world_of(const ProcessGrid& g, int dp, int tp, int pp) { return (pp * g.dp + dp) * g.tp + tp; }

struct Item {
  std::string what;
  uint64_t hash;
};

void compare(long step, Communicator& comm, const std::vector<Item>& items, const char* across,
             const std::function<int(int)>& world_rank) {
  std::vector<uint64_t> mine;
  for (const Item& it : items) mine.push_back(it.hash);
  const std::vector<uint64_t> all = gather_hashes(comm, mine);
  const long n = static_cast<long>(items.size());
  for (long i = 0; i < n; ++i)
    for (int r = 1; r < comm.size(); ++r)
      if (all[r * n + i] != all[i])
        throw Error("consistency check failed at step " + std::to_string(step) + ": " + items[i].what +
                    " differs across " + across + " between world ranks " + std::to_string(world_rank(0)) +
                    " and " + std::to_string(world_rank(r)));
}
}  // namespace

void check_consistency(long step, const LocalLayout& lay, const Ownership& own, ProcessGrid& g, const float* params,
                       const float* m, const float* v, float grad_norm) {
  const bool zero = own.ranges.size() != 1 || own.ranges[0].size() != lay.total();
  std::vector<Item> dp_items, tp_items, wte_items;
  for (const LocalTensor& t : lay.tensors()) {
    const std::string& name = t.global->name;
    dp_items.push_back({"parameter " + name, hash_bits(params + t.offset, t.size)});
    if (!zero) {
      dp_items.push_back({"Adam m of " + name, hash_bits(m + t.offset, t.size)});
      dp_items.push_back({"Adam v of " + name, hash_bits(v + t.offset, t.size)});
    }
    if (t.split == Split::none) {
      tp_items.push_back({"replicated parameter " + name, hash_bits(params + t.offset, t.size)});
      if (!zero) tp_items.push_back({"Adam m of replicated " + name, hash_bits(m + t.offset, t.size)});
    }
    if (name == "wte") wte_items.push_back({"tied wte shard", hash_bits(params + t.offset, t.size)});
  }
  if (g.dp > 1)
    compare(step, g.dp_host(), dp_items, "data-parallel replicas",
            [&](int r) { return world_of(g, r, g.tp_rank, g.pp_rank); });
  if (g.tp > 1)
    compare(step, g.tp_host(), tp_items, "tensor-parallel ranks",
            [&](int r) { return world_of(g, g.dp_rank, r, g.pp_rank); });
  // Tied wte: the first and the last stage hold it. Compare through the pipeline group: stages without wte
  // contribute a zero hash that is never compared.
  if (g.pp > 1) {
    std::vector<uint64_t> mine{wte_items.empty() ? 0 : wte_items[0].hash};
    const std::vector<uint64_t> all = gather_hashes(g.pp_host(), mine);
    if (all.front() != all.back())
      throw Error("consistency check failed at step " + std::to_string(step) +
                  ": the tied wte differs between the first and the last pipeline stage (world ranks " +
                  std::to_string(world_of(g, g.dp_rank, g.tp_rank, 0)) + " and " +
                  std::to_string(world_of(g, g.dp_rank, g.tp_rank, g.pp - 1)) + ")");
  }
  float norm = grad_norm;
  uint64_t nh = 0;
  std::memcpy(&nh, &norm, 4);
  compare(step, g.world(), {{"the global gradient norm", nh}}, "ranks", [](int r) { return r; });
}

}  // namespace parity
