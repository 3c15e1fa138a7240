// The whole Markdown report: title, provenance, the parity section and the scaling section (report.hpp lists
// the files that build each part).
#include "harness/report.hpp"

namespace parity::report {
namespace {

std::string base_name(const std::string& path) {
  const size_t slash = path.rfind('/');
  return path.substr(slash == std::string::npos ? 0 : slash + 1);
}

}  // namespace

std::string provenance_markdown(const Sweep& s) {
  std::string o = "- file: `" + base_name(s.path) + "` (" + s.format + ")\n";
  for (const auto& [k, v] : s.provenance) o += "- " + k + ": " + v + "\n";
  return o;
}

std::string full_markdown(const Sweep& s, const Peak& peak) {
  return "# parity report: " + base_name(s.path) + "\n\n" + provenance_markdown(s) + "\n## Parity\n\n" +
         parity_markdown(s) + "\n## Scaling\n\n" + scaling_markdown(s, peak);
}

}  // namespace parity::report
