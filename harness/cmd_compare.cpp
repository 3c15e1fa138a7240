// `parity compare A.h5 B.h5`: two checkpoints, gradient dumps or result files, tensor by tensor.
// Exit status like diff / h5diff: 0 bit-identical, 1 different, 2 trouble (unreadable file, bad group).
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "harness/commands.hpp"
#include "harness/compare.hpp"
#include "kernels/error.hpp"
#include "reference/h5io.hpp"

namespace parity::cli {
namespace {

struct CompareOptions {
  std::string a, b;
  std::string group = "/";
  std::string format = "text";
  bool diff_only = false;
};

std::string shape_text(const std::vector<hsize_t>& dims) {
  if (dims.empty()) return "scalar";
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? "x" : "") + std::to_string(dims[i]);
  return s;
}

// Row-major multi-dimensional index of a flat index: "[17,3]".
std::string nd_index(long flat, const std::vector<hsize_t>& dims) {
  if (dims.empty()) return "[]";
  std::vector<unsigned long long> idx(dims.size());
  unsigned long long f = static_cast<unsigned long long>(flat);
  for (size_t i = dims.size(); i-- > 0;) {
    idx[i] = dims[i] ? f % dims[i] : 0;
    f = dims[i] ? f / dims[i] : 0;
  }
  std::string s = "[";
  for (size_t i = 0; i < idx.size(); ++i) s += (i ? "," : "") + std::to_string(idx[i]);
  return s + "]";
}

std::string num(double v) {
  if (v == 0) return "0";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

std::string full(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string ulp_text(int64_t u) {
  return u == std::numeric_limits<int64_t>::max() ? std::string("inf") : std::to_string(u);
}

struct Row {
  std::string tensor, status, shape_a, shape_b, elements, differing, max_abs, max_rel, max_ulp, first, first_flat;
};

// Element type and extents of a dataset in one file, for display ("-" when absent).
struct Meta {
  std::string type = "-";
  std::vector<hsize_t> dims;
};
Meta meta(const H5Reader& r, const std::string& name) {
  Meta m;
  if (!r.has(name)) return m;
  m.type = r.dtype(name);
  m.dims = r.dims(name);
  return m;
}
std::string meta_text(const Meta& m) {
  if (m.type == "-") return "-";
  return shape_text(m.dims) + (m.type == "float32" ? "" : " " + m.type);
}

// The table's rows: every compared tensor (only the differing ones with --diff-only), then those in one file only.
std::vector<Row> table_rows(const FileDiff& diff, const H5Reader& ra, const H5Reader& rb, bool diff_only) {
  std::vector<Row> rows;
  for (const TensorDiff& t : diff.tensors) {
    const Meta ma = meta(ra, t.name), mb = meta(rb, t.name);
    Row r;
    r.tensor = t.name;
    r.shape_a = meta_text(ma);
    r.shape_b = meta_text(mb);
    r.elements = std::to_string(t.elements);
    if (t.shape_mismatch) {
      r.status = ma.type != mb.type ? "type" : "shape";
      rows.push_back(r);
      continue;
    }
    r.status = t.bitwise() ? "same" : "DIFF";
    if (diff_only && t.bitwise()) continue;
    r.differing = std::to_string(t.differing);
    r.max_abs = num(t.max_abs);
    r.max_rel = num(t.max_rel);
    r.max_ulp = ulp_text(t.max_ulp);
    if (t.first_index >= 0) {
      r.first = nd_index(t.first_index, ma.dims);
      r.first_flat = std::to_string(t.first_index);
    }
    rows.push_back(r);
  }
  for (const auto& [names, status] : {std::make_pair(&diff.only_in_a, "only A"), std::make_pair(&diff.only_in_b, "only B")})
    for (const std::string& n : *names) {
      Row r;
      r.tensor = n;
      r.status = status;
      r.shape_a = meta_text(meta(ra, n));
      r.shape_b = meta_text(meta(rb, n));
      rows.push_back(r);
    }
  return rows;
}

// --format csv: the table only, full-precision numbers, the status words of docs/reports.md.
void print_csv(const FileDiff& diff, const H5Reader& ra, const H5Reader& rb, bool diff_only) {
  std::printf("tensor,status,shape_a,shape_b,elements,differing,max_abs,max_rel,max_ulp,first_index,first_index_nd\n");
  for (const TensorDiff& t : diff.tensors) {
    if (diff_only && t.bitwise()) continue;
    const Meta ma = meta(ra, t.name), mb = meta(rb, t.name);
    const char* status = t.shape_mismatch ? (ma.type != mb.type ? "type" : "shape") : t.bitwise() ? "same" : "differ";
    if (t.shape_mismatch) {
      std::printf("%s,%s,%s,%s,%ld,,,,,,\n", t.name.c_str(), status, meta_text(ma).c_str(), meta_text(mb).c_str(),
                  t.elements);
      continue;
    }
    std::printf("%s,%s,%s,%s,%ld,%ld,%s,%s,%s,%ld,%s\n", t.name.c_str(), status, meta_text(ma).c_str(),
                meta_text(mb).c_str(), t.elements, t.differing, full(t.max_abs).c_str(), full(t.max_rel).c_str(),
                ulp_text(t.max_ulp).c_str(), t.first_index,
                t.first_index >= 0 ? ("\"" + nd_index(t.first_index, ma.dims) + "\"").c_str() : "");
  }
  for (const std::string& n : diff.only_in_a)
    std::printf("%s,only_a,%s,-,,,,,,,\n", n.c_str(), meta_text(meta(ra, n)).c_str());
  for (const std::string& n : diff.only_in_b)
    std::printf("%s,only_b,-,%s,,,,,,,\n", n.c_str(), meta_text(meta(rb, n)).c_str());
}

// "; first NAME[i,j] (flat k): a vs b; max abs ..., max rel ..., max N ULP"
std::string first_difference_text(const FileDiff& diff, const H5Reader& ra, const H5Reader& rb) {
  const TensorDiff* t = diff.first_difference();
  if (!t) return "";
  std::string s;
  const Meta ma = meta(ra, t->name), mb = meta(rb, t->name);
  if (t->shape_mismatch) {
    s += "; first " + t->name + ": " + meta_text(ma) + " vs " + meta_text(mb);
  } else {
    const float va = ra.read_float(t->name)[t->first_index];
    const float vb = rb.read_float(t->name)[t->first_index];
    s += "; first " + t->name + nd_index(t->first_index, ma.dims) + " (flat " + std::to_string(t->first_index) +
         "): " + full(va) + " vs " + full(vb);
  }
  s += "; max abs " + num(diff.max_abs()) + ", max rel " + num(diff.max_rel());
  int64_t ulp = 0;
  for (const TensorDiff& u : diff.tensors) ulp = std::max(ulp, u.max_ulp);
  return s + ", max " + ulp_text(ulp) + " ULP";
}

// The first line: "bit-identical: N tensors, E elements" or "differ: K of N tensors; ..." with the first difference.
void print_summary(const FileDiff& diff, const H5Reader& ra, const H5Reader& rb, const CompareOptions& o) {
  const size_t compared = diff.tensors.size();
  if (diff.bitwise()) {
    long total_elements = 0;
    for (const TensorDiff& t : diff.tensors) total_elements += t.elements;
    std::printf("bit-identical: %zu %s, %ld %s\n", compared, compared == 1 ? "tensor" : "tensors", total_elements,
                total_elements == 1 ? "element" : "elements");
    return;
  }
  const size_t differing = static_cast<size_t>(std::count_if(
      diff.tensors.begin(), diff.tensors.end(), [](const TensorDiff& t) { return t.shape_mismatch || !t.bitwise(); }));
  std::string s = "differ: " + std::to_string(differing) + " of " + std::to_string(compared) + " tensors";
  if (!diff.only_in_a.empty()) s += "; " + std::to_string(diff.only_in_a.size()) + " only in " + o.a;
  if (!diff.only_in_b.empty()) s += "; " + std::to_string(diff.only_in_b.size()) + " only in " + o.b;
  std::printf("%s%s\n", s.c_str(), first_difference_text(diff, ra, rb).c_str());
}

// The table, columns sized to their contents.
void print_table(const std::vector<Row>& rows) {
  const std::vector<std::string> head = {"tensor", "status", "shape", "elements", "differing", "max abs",
                                         "max rel", "max ULP", "first diff"};
  std::vector<std::vector<std::string>> cells;
  for (const Row& r : rows) {
    std::string shape = r.shape_a == r.shape_b ? r.shape_a : r.shape_a + " vs " + r.shape_b;
    std::string first = r.first.empty() ? "" : r.first + " (flat " + r.first_flat + ")";
    cells.push_back({r.tensor, r.status, shape, r.elements, r.differing, r.max_abs, r.max_rel, r.max_ulp, first});
  }
  std::vector<size_t> width(head.size());
  for (size_t c = 0; c < head.size(); ++c) {
    width[c] = head[c].size();
    for (const auto& row : cells) width[c] = std::max(width[c], row[c].size());
  }
  const std::vector<bool> right = {false, false, false, true, true, true, true, true, false};
  auto print_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      const std::string pad(width[c] - row[c].size(), ' ');
      line += (c ? "  " : "") + (right[c] ? pad + row[c] : row[c] + (c + 1 < row.size() ? pad : ""));
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::printf("%s\n", line.c_str());
  };
  print_row(head);
  for (const auto& row : cells) print_row(row);
}

int run_compare(const CompareOptions& o) {
  const FileDiff diff = compare_files(o.a, o.b, o.group);
  const H5Reader ra(o.a), rb(o.b);
  if (diff.tensors.empty() && diff.only_in_a.empty() && diff.only_in_b.empty()) {
    throw Error("nothing to compare: no float32 datasets under " + o.group + " in " + o.a + " or " + o.b);
  }
  const int status = diff.bitwise() ? 0 : 1;
  if (o.format == "csv") {
    print_csv(diff, ra, rb, o.diff_only);
    return status;
  }
  print_summary(diff, ra, rb, o);
  print_table(table_rows(diff, ra, rb, o.diff_only));
  return status;
}

}  // namespace

Command add_compare(CLI::App& parent) {
  auto o = std::make_shared<CompareOptions>();
  CLI::App* app = parent.add_subcommand(
      "compare",
      "compare two HDF5 files (checkpoints, gradient dumps, results) tensor by tensor; exit 0 if bit-identical, "
      "1 if they differ, 2 on error");
  app->add_option("A", o->a, "first file")->required();
  app->add_option("B", o->b, "second file")->required();
  app->add_option("--group", o->group, "compare the float32 datasets under this group (or this one dataset)")
      ->capture_default_str();
  app->add_option("--format", o->format, "text (summary line and table) or csv")
      ->check(CLI::IsMember({"text", "csv"}))
      ->capture_default_str();
  app->add_flag("--diff-only", o->diff_only, "list only the tensors that differ");
  return {app, [o]() {
            try {
              return run_compare(*o);
            } catch (const Error& e) {
              std::fprintf(stderr, "parity: error: %s\n", e.what());
              return 2;
            }
          }};
}

}  // namespace parity::cli
