// How the report writes numbers and table cells: the same rules in every table, so that the output is a pure
// function of the file (docs/reports.md). Markdown figures are short (three significant digits, one-decimal
// percentages, "—" for unknown); CSV figures are full precision and empty when unknown.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace parity::report {

// printf of one double (f has one conversion).
std::string fmt(const char* f, double v);
// Three significant digits; "0" for zero, the dash for unknown (NaN).
std::string g3(double v, const char* dash = "—");
// A fraction as a percentage with one decimal.
std::string pct(double v, const char* dash = "—");
std::string fixed(const char* f, double v, const char* dash = "—");

// CSV: nine significant digits (enough to read a double's value back to 1e-9), "" when unknown.
std::string csv_num(double v);
// A count or index, "" when negative (unknown).
std::string csv_int(int64_t v);
// One row, fields quoted where they hold a comma, a quote or a line break.
std::string csv_row(const std::vector<std::string>& fields);

// Markdown: one row (pipes escaped, line breaks flattened) and the rule under the header.
std::string md_row(const std::vector<std::string>& cells);
std::string md_rule(const std::vector<bool>& right_aligned);

}  // namespace parity::report
