// Where a result came from: recorded as attributes on every run group (DESIGN.md).
#pragma once
#include <string>

namespace parity {

struct Provenance {
  std::string git_revision, compiler, kokkos_backend, mpi_library, hosts, date;
};

Provenance collect_provenance();

class H5Writer;
// Writes p as attributes of `group` (git_revision, compiler, kokkos_backend, mpi_library, hosts, date).
void write_provenance(H5Writer& w, const std::string& group, const Provenance& p);

}  // namespace parity
