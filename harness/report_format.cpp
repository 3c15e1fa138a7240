#include "harness/report_format.hpp"

#include <cmath>
#include <cstdio>

namespace parity::report {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string g3(double v, const char* dash) {
  if (std::isnan(v)) return dash;
  if (v == 0) return "0";
  return fmt("%.3g", v);
}

std::string pct(double v, const char* dash) { return std::isnan(v) ? dash : fmt("%.1f%%", 100 * v); }

std::string fixed(const char* f, double v, const char* dash) { return std::isnan(v) ? dash : fmt(f, v); }

std::string csv_num(double v) {
  if (std::isnan(v)) return "";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt("%.9g", v);
}

std::string csv_int(int64_t v) { return v < 0 ? "" : std::to_string(v); }

namespace {

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string o = "\"";
  for (char c : s) o += c == '"' ? std::string("\"\"") : std::string(1, c);
  return o + "\"";
}

std::string md_cell(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '|') o += "\\|";
    else if (c == '\n') o += ' ';
    else o += c;
  }
  return o;
}

}  // namespace

std::string csv_row(const std::vector<std::string>& fields) {
  std::string o;
  for (size_t i = 0; i < fields.size(); ++i) o += (i ? "," : "") + csv_field(fields[i]);
  return o + "\n";
}

std::string md_row(const std::vector<std::string>& cells) {
  std::string o = "|";
  for (const std::string& c : cells) o += " " + md_cell(c) + " |";
  return o + "\n";
}

std::string md_rule(const std::vector<bool>& right_aligned) {
  std::string o = "|";
  for (bool r : right_aligned) o += r ? "---:|" : "---|";
  return o + "\n";
}

}  // namespace parity::report
