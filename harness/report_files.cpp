#include "harness/report_files.hpp"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "kernels/error.hpp"

namespace parity::report {
namespace {

std::string shell_quote(const std::string& s) {
  std::string o = "'";
  for (char c : s) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return o + "'";
}

bool on_path(const std::string& tool) {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::stringstream ss(path);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (dir.empty()) continue;
    const std::string p = dir + "/" + tool;
    if (::access(p.c_str(), X_OK) == 0) return true;
  }
  return false;
}

// Runs a shell command; returns its exit status and leaves its combined output in `out`.
int run_capture(const std::string& cmd, std::string& out) {
  out.clear();
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  const int st = ::pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

bool nonempty_file(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && st.st_size > 0;
}

}  // namespace

void write_text(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp." + std::to_string(static_cast<long>(::getpid()));
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw Error("cannot create " + path + ": " + std::strerror(errno));
    f << text;
    f.flush();
    if (!f) {
      std::remove(tmp.c_str());
      throw Error("cannot write " + path + " (disk full?)");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    throw Error("cannot rename " + tmp + " onto " + path + ": " + why);
  }
}

void to_png(const std::string& svg, const std::string& png) {
  std::string tried;
  const std::vector<std::pair<std::string, std::string>> tools = {
      {"rsvg-convert", "rsvg-convert --background-color=white -o " + shell_quote(png) + " " + shell_quote(svg)},
      {"convert", "convert " + shell_quote(svg) + " " + shell_quote(png)}};
  for (const auto& [tool, cmd] : tools) {
    if (!on_path(tool)) {
      tried += "; " + tool + ": not installed";
      continue;
    }
    std::remove(png.c_str());
    std::string out;
    const int rc = run_capture(cmd, out);
    if (rc == 0 && nonempty_file(png)) return;
    std::remove(png.c_str());
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    if (out.size() > 300) out = out.substr(0, 300) + "...";
    tried += "; " + tool + ": exit status " + std::to_string(rc) + (out.empty() ? "" : " (" + out + ")");
  }
  throw Error("--plots png: cannot convert " + svg + " to PNG" + tried +
              ". Install librsvg2-bin (rsvg-convert) or imagemagick (convert), or use --plots svg");
}

}  // namespace parity::report
