// Which communicator carries the tensors of the data groups: mpi (host-staged; any number of ranks per GPU)
// or nccl (CUDA build, device memory, one GPU per rank). Exact results are the same bits with either.
#pragma once

namespace parity {

enum class CommKind { mpi, nccl };

inline const char* to_string(CommKind k) { return k == CommKind::mpi ? "mpi" : "nccl"; }

}  // namespace parity
