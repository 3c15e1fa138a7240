#include "reference/provenance.hpp"

#include <mpi.h>
#include <unistd.h>

#include <Kokkos_Core.hpp>
#include <ctime>

#include "reference/h5io.hpp"

namespace parity {

Provenance collect_provenance() {
  Provenance p;
  p.git_revision = PARITY_GIT_REV;
  p.compiler = PARITY_COMPILER;
  p.kokkos_backend = Kokkos::DefaultExecutionSpace::name();
  char lib[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(lib, &len);  // allowed before MPI_Init
  p.mpi_library = std::string(lib, len);
  if (const auto nl = p.mpi_library.find_first_of(",\n"); nl != std::string::npos) p.mpi_library.resize(nl);
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  p.hosts = host;
  char date[64];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  p.date = date;
  return p;
}

void write_provenance(H5Writer& w, const std::string& g, const Provenance& p) {
  w.attr(g, "git_revision", p.git_revision);
  w.attr(g, "compiler", p.compiler);
  w.attr(g, "kokkos_backend", p.kokkos_backend);
  w.attr(g, "mpi_library", p.mpi_library);
  w.attr(g, "hosts", p.hosts);
  w.attr(g, "date", p.date);
}

}  // namespace parity
