// Where a result came from: recorded as attributes on every run group (DESIGN.md).
#pragma once
#include <string>

namespace parity {

struct Provenance {
  std::string git_revision, compiler, kokkos_backend, mpi_library, hosts, date;
};

Provenance collect_provenance();

}  // namespace parity
