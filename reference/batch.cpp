#include "reference/batch.hpp"

namespace parity {

Batch::Batch(long m, long first, long count, long b, long T)
    : m_(m), first_(first), count_(count), b_(b), T_(T), inputs_(count * b * T), targets_(count * b * T) {}

void Batch::load(const TokenSource& data, long step) {
  for (long i = 0; i < count_; ++i)
    for (long r = 0; r < b_; ++r) {
      const long at = (i * b_ + r) * T_;
      data.sequence(static_cast<uint64_t>((step * m_ + first_ + i) * b_ + r), static_cast<int>(T_), &inputs_[at],
                    &targets_[at]);
    }
}

}  // namespace parity
