// Faults injected on purpose, for the tests of the checks that must catch them (testing flags, hidden from
// --help):
//   --inject-overflow STEP:RANK        an inf in that world rank's gradient at that step (the loss scaler's
//                                      skip-on-every-rank test);
//   --inject-bitflip STEP:RANK:TENSOR  one bit of that tensor flipped on that world rank after that step's
//                                      update (the consistency check's test);
//   --inject-stall STEP:RANK           that world rank stops progressing at the start of that step (sleeps,
//                                      communicating nothing): the communication timeout's test.
#pragma once
#include <string>

#include "reference/ownership.hpp"
#include "reference/shard_layout.hpp"

namespace parity {

class FaultInjection {
 public:
  // Parses the two flags' values ("" = none). A malformed value is a parity::Error naming the flag, the
  // expected form and what was wrong; world_size bounds RANK (0 = not known yet, no bound).
  static FaultInjection parse(const std::string& overflow, const std::string& bitflip, const std::string& stall = "",
                              int world_size = 0);

  // Puts an inf into the first owned element of grads if (step, world_rank) is the overflow's.
  void overflow(long step, int world_rank, float* grads, const Ownership& own) const;
  // Flips the lowest bit of the tensor's first local element if (step, world_rank) is the bit flip's; a
  // tensor the rank does not hold is a parity::Error.
  void bitflip(long step, int world_rank, const LocalLayout& lay, float* params) const;
  // Sleeps for an hour if (step, world_rank) is the stall's: the other ranks' waits must time out first.
  void stall(long step, int world_rank) const;

 private:
  long overflow_step_ = -1, bitflip_step_ = -1, stall_step_ = -1;
  int overflow_rank_ = -1, bitflip_rank_ = -1, stall_rank_ = -1;
  std::string bitflip_tensor_;
};

}  // namespace parity
