// `parity report FILE.h5`: the parity and scaling tables of a sweep (Markdown or CSV) and its plots.
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>

#include "harness/commands.hpp"
#include "harness/report.hpp"
#include "kernels/error.hpp"

namespace parity::cli {
namespace {

struct ReportOptions {
  std::string file;
  std::string format = "md";
  std::string out;
  std::string plots;  // svg | png | none; default svg with --out
  std::string table = "all";
  double peak_gflops = 0;
};

// mkdir -p
void make_dirs(const std::string& dir) {
  std::string prefix;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    prefix = dir.substr(0, pos);
    if (prefix.empty()) continue;
    struct stat st {};
    if (::stat(prefix.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) throw Error("cannot create output directory " + dir + ": " + prefix + " is not a directory");
      continue;
    }
    if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST)
      throw Error("cannot create output directory " + prefix + ": " + std::strerror(errno));
  }
}

void write_file(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw Error("cannot create " + path + ": " + std::strerror(errno));
    f << text;
    if (!f.flush()) throw Error("cannot write " + path + " (disk full?)");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw Error("cannot rename " + tmp + " onto " + path);
}

int run_report(const ReportOptions& o) {
  if (!o.plots.empty() && o.plots != "none" && o.out.empty())
    throw Error("--plots " + o.plots + " needs --out DIR (the directory the plots are written to)");
  if (o.peak_gflops < 0) throw Error("--peak-gflops must be positive");
  const report::Sweep s = report::load(o.file);
  const report::Peak peak = report::choose_peak(s, o.peak_gflops);
  const std::string name = s.path.substr(s.path.rfind('/') == std::string::npos ? 0 : s.path.rfind('/') + 1);

  if (o.format == "csv") {
    std::string text;
    if (o.table != "scaling") text += report::parity_csv(s);
    if (o.table == "all") text += "\n";
    if (o.table != "parity") text += report::scaling_csv(s, peak);
    std::fputs(text.c_str(), stdout);
  } else if (o.table == "all") {
    std::fputs(report::full_markdown(s, peak).c_str(), stdout);
  } else if (o.table == "parity") {
    std::fputs(report::parity_markdown(s).c_str(), stdout);
  } else {
    std::fputs(report::scaling_markdown(s, peak).c_str(), stdout);
  }
  std::fflush(stdout);

  if (o.out.empty()) return 0;
  make_dirs(o.out);
  const std::string head = report::provenance_markdown(s);
  const std::vector<std::pair<std::string, std::string>> files = {
      {"parity.md", "# Parity: " + name + "\n\n" + head + "\n" + report::parity_markdown(s)},
      {"scaling.md", "# Scaling: " + name + "\n\n" + head + "\n" + report::scaling_markdown(s, peak)},
      {"parity.csv", report::parity_csv(s)},
      {"scaling.csv", report::scaling_csv(s, peak)},
      {"report.md", report::full_markdown(s, peak)}};
  std::vector<std::string> written;
  for (const auto& [f, text] : files) {
    write_file(o.out + "/" + f, text);
    written.push_back(o.out + "/" + f);
  }
  const std::string plots = o.plots.empty() ? "svg" : o.plots;
  if (plots != "none") {
    for (const std::string& p : report::write_plots(s, o.out, plots == "png")) written.push_back(p);
  }
  std::fprintf(stderr, "parity report: wrote %zu files to %s:", written.size(), o.out.c_str());
  for (const std::string& p : written) std::fprintf(stderr, " %s", p.substr(o.out.size() + 1).c_str());
  std::fprintf(stderr, "\n");
  return 0;
}

}  // namespace

Command add_report(CLI::App& parent) {
  auto o = std::make_shared<ReportOptions>();
  CLI::App* app = parent.add_subcommand(
      "report", "parity and scaling tables (Markdown or CSV) and plots (SVG or PNG) from a sweep's HDF5 file");
  app->add_option("FILE", o->file, "merged sweep file (parity sweep --out), or a parity train --results file")
      ->required();
  app->add_option("--format", o->format, "md (Markdown) or csv, printed to stdout")
      ->check(CLI::IsMember({"md", "csv"}))
      ->capture_default_str();
  app->add_option("--table", o->table, "all, parity or scaling (what is printed)")
      ->check(CLI::IsMember({"all", "parity", "scaling"}))
      ->capture_default_str();
  app->add_option("--out", o->out,
                  "also write parity.md, scaling.md, parity.csv, scaling.csv, report.md and the plots into DIR");
  app->add_option("--peak-gflops", o->peak_gflops,
                  "peak GFLOP/s per rank for MFU (default: the peak the sweep measured, else each run's recorded "
                  "estimate; else no MFU)");
  app->add_option("--plots", o->plots, "svg (default with --out), png (needs rsvg-convert or ImageMagick) or none")
      ->check(CLI::IsMember({"svg", "png", "none"}));
  return {app, [o]() { return run_report(*o); }};
}

}  // namespace parity::cli
