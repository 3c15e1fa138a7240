// A small RAII layer over the HDF5 C API: everything parity writes (sweep results, checkpoints) and reads
// back goes through H5Writer / H5Reader, so that every failure surfaces as a parity::Error naming the file
// and the object, and HDF5's own error-stack printing never reaches the user.
//
// Conventions
// - Object names are absolute paths ("/runs/x/loss"); a name without a leading '/' is taken from the root.
// - Datasets are written with native types (float32, float64, int32, int64), contiguous, no chunking.
//   Empty dims {} write a scalar dataset (one element); an extent of 0 writes an empty dataset.
// - String attributes are scalar variable-length UTF-8 strings (h5dump prints them as "text"; h5py reads
//   them as str). The reader also accepts fixed-length strings written by other tools.
// - Reading converts only where no information can be lost: read_double accepts float32 and float64,
//   read_int64 accepts any integer type up to 64-bit signed, read_int32 accepts int8/16/32 and uint8/16;
//   anything else is an error rather than a silent cast.
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace parity {

// Writes to "<path>.tmp.<pid>" and renames onto <path> only in commit(): a crash or an exception never
// leaves a half-written file at <path>. Destructor without commit() deletes the temporary.
class H5Writer {
 public:
  explicit H5Writer(const std::string& path);
  ~H5Writer();
  H5Writer(const H5Writer&) = delete;
  H5Writer& operator=(const H5Writer&) = delete;

  // Datasets; intermediate groups in `name` ("/params/blocks.0.ln1.weight", "/runs/x/loss") are created as
  // needed. Writing a name that already exists is an error.
  void write(const std::string& name, const float* data, const std::vector<hsize_t>& dims);
  void write(const std::string& name, const double* data, const std::vector<hsize_t>& dims);
  void write(const std::string& name, const int32_t* data, const std::vector<hsize_t>& dims);
  void write(const std::string& name, const int64_t* data, const std::vector<hsize_t>& dims);

  // Attributes on an object (group or dataset, "/" for the root); the group (and its parents) is created
  // if missing. Setting an attribute that exists replaces it.
  void attr(const std::string& obj, const std::string& key, const std::string& value);
  void attr(const std::string& obj, const std::string& key, const char* value) {
    attr(obj, key, std::string(value));
  }
  void attr(const std::string& obj, const std::string& key, int64_t value);
  // Any other integer type (int, size_t, bool, ...) is stored as int64.
  template <class I, class = std::enable_if_t<std::is_integral<I>::value>>
  void attr(const std::string& obj, const std::string& key, I value) {
    if (std::is_unsigned<I>::value && static_cast<uint64_t>(value) > uint64_t(INT64_MAX)) {
      attr_overflow(obj, key);
    }
    attr(obj, key, static_cast<int64_t>(value));
  }
  void attr(const std::string& obj, const std::string& key, double value);

  // Closes the file, flushes it to disk and renames it onto the final path. Nothing may be written after.
  void commit();

  const std::string& path() const { return path_; }

 private:
  void write_raw(const std::string& name, hid_t type, const void* data, const std::vector<hsize_t>& dims);
  void write_attr(const std::string& obj, const std::string& key, hid_t type, const void* value);
  [[noreturn]] void attr_overflow(const std::string& obj, const std::string& key) const;

  std::string path_;
  std::string tmp_;
  hid_t file_ = -1;
  bool committed_ = false;
};

class H5Reader {
 public:
  // Throws parity::Error "cannot open HDF5 file PATH: reason" (missing, unreadable, not HDF5, corrupt).
  explicit H5Reader(const std::string& path);
  ~H5Reader();
  H5Reader(const H5Reader&) = delete;
  H5Reader& operator=(const H5Reader&) = delete;

  // True when `name` resolves to an object (dataset or group).
  bool has(const std::string& name) const;
  // Extents of a dataset ({} for a scalar dataset).
  std::vector<hsize_t> dims(const std::string& name) const;

  // Whole dataset, row-major. Throw parity::Error naming the dataset and the file when it is missing or
  // its type cannot be converted without loss.
  std::vector<float> read_float(const std::string& name) const;
  std::vector<double> read_double(const std::string& name) const;
  std::vector<int32_t> read_int32(const std::string& name) const;
  std::vector<int64_t> read_int64(const std::string& name) const;

  bool has_attr(const std::string& obj, const std::string& key) const;
  std::string attr_string(const std::string& obj, const std::string& key) const;
  int64_t attr_int(const std::string& obj, const std::string& key) const;
  double attr_double(const std::string& obj, const std::string& key) const;  // accepts integer attributes

  // Names of the children of a group (datasets and groups), sorted.
  std::vector<std::string> list(const std::string& group) const;
  // True when `name` is a group (false when missing or a dataset).
  bool is_group(const std::string& name) const;
  // Element type of a dataset: "float32", "float64", "int8" ... "int64", "uint8" ... "uint64", "string",
  // "compound", "enum", "array", "variable-length sequence" or "an unsupported type". Throws when missing.
  std::string dtype(const std::string& name) const;
  // Names of the attributes of an object (group or dataset, "/" for the root), sorted.
  std::vector<std::string> attrs(const std::string& obj) const;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  hid_t file_ = -1;
};

}  // namespace parity
