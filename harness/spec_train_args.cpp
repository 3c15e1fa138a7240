// A run of the sweep as `parity train` arguments: the run definition's fields (reference/run_definition.hpp)
// and the run's extra arguments, which take the place of a field they set.
#include <algorithm>

#include "harness/spec.hpp"
#include "reference/run_definition.hpp"

namespace parity::sweep {

std::vector<std::string> train_args(const RunDef& r) {
  std::vector<std::string> own;  // the flags extra_args sets ("--check-consistency" or "--check-consistency=1")
  for (const std::string& a : r.extra_args)
    if (a.rfind("--", 0) == 0) own.push_back(a.substr(0, a.find('=')));
  std::vector<std::string> a = definition_args(r.config, own);
  a.insert(a.end(), r.extra_args.begin(), r.extra_args.end());
  return a;
}

}  // namespace parity::sweep
