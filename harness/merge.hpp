// Merging per-run HDF5 files into the sweep's one result file (docs/sweeps.md has the layout).
// Every write produces a complete file: it is built under "<path>.tmp.<pid>", flushed, and renamed onto
// <path>, so an interrupted sweep leaves the previous complete file (which --resume continues).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace parity::sweep {

using AttrValue = std::variant<std::string, int64_t, double>;
using Attrs = std::vector<std::pair<std::string, AttrValue>>;

struct MergeGroup {
  std::string path;         // in the merged file, e.g. "/runs/dp2-tp1-pp1-fp32-exact-s1"
  std::string source_file;  // HDF5 file to copy the group from (attributes and datasets); "" for none
  std::string source_path;  // the group in that file, e.g. "/runs/dp2-tp1-pp1-fp32-exact"
  Attrs attrs;              // set after the copy, replacing copied attributes of the same name
};

// Writes `path` atomically: the root attributes, then every group (copied with H5Ocopy where it has a source,
// created otherwise) with its attributes. Throws parity::Error naming the file and the object on failure; the
// previous file at `path` is then untouched. A source may be `path` itself (the previous merged file).
void write_merged(const std::string& path, const Attrs& root, const std::vector<MergeGroup>& groups);

}  // namespace parity::sweep
