// RAII HDF5 layer (see h5io.hpp). Every HDF5 handle lives in a Handle that closes it on scope exit, so an
// exception thrown half-way through an operation leaks nothing and leaves the file closable.
#include "reference/h5io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "kernels/error.hpp"

namespace parity {
namespace {

// Owns one hid_t and the function that closes it.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }
  void reset(hid_t id) {
    if (id_ >= 0) close_(id_);
    id_ = id;
  }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// HDF5 prints its whole error stack to stderr on every failed call by default; parity reports its own
// messages instead. (Per thread in thread-safe HDF5 builds, hence called on every open, not once.)
void silence_hdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

// File access properties shared by reader and writer. HDF5 >= 1.10.7 locks files by default, which fails
// on some parallel file systems (Lustre, NFS) with an opaque error; parity never has a reader and writer on
// the same file (writers use a private temporary), so locking buys nothing and is turned off.
Handle file_access() {
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
#if H5_VERSION_GE(1, 10, 7)
  H5Pset_file_locking(fapl.get(), false, true);
#endif
  return fapl;
}

// Absolute form of an object name: a leading '/', no trailing '/' (except the root itself).
std::string absolute(const std::string& name) {
  std::string s = (name.empty() || name[0] != '/') ? "/" + name : name;
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

// True when every link along `name` exists and the last one resolves to an object. (H5Lexists on a path
// whose parent is missing is an error rather than "false", hence the walk.)
bool object_exists(hid_t file, const std::string& name) {
  const std::string abs = absolute(name);
  if (abs == "/") return true;
  size_t pos = 0;
  while (true) {
    pos = abs.find('/', pos + 1);
    const std::string prefix = abs.substr(0, pos);
    if (H5Lexists(file, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (pos == std::string::npos) break;
  }
  return H5Oexists_by_name(file, abs.c_str(), H5P_DEFAULT) > 0;
}

std::string type_description(hid_t type) {
  const H5T_class_t cls = H5Tget_class(type);
  const size_t bits = H5Tget_size(type) * 8;
  switch (cls) {
    case H5T_INTEGER:
      return std::string(H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(bits);
    case H5T_FLOAT: return "float" + std::to_string(bits);
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    case H5T_ENUM: return "enum";
    case H5T_ARRAY: return "array";
    case H5T_VLEN: return "variable-length sequence";
    default: return "an unsupported type";
  }
}

// Whether a stored type converts to the requested one without loss.
enum class Want { F32, F64, I32, I64 };

const char* want_name(Want w) {
  switch (w) {
    case Want::F32: return "float32";
    case Want::F64: return "float64";
    case Want::I32: return "int32";
    default: return "int64";
  }
}

bool lossless(hid_t type, Want want) {
  const H5T_class_t cls = H5Tget_class(type);
  const size_t size = H5Tget_size(type);
  if (cls == H5T_FLOAT) {
    if (want == Want::F32) return size == 4;
    if (want == Want::F64) return size <= 8;
    return false;
  }
  if (cls == H5T_INTEGER) {
    const bool is_signed = H5Tget_sign(type) != H5T_SGN_NONE;
    const size_t width = (want == Want::I32) ? 4 : (want == Want::I64) ? 8 : 0;
    return width != 0 && (size < width || (size == width && is_signed));
  }
  return false;
}

template <class T>
std::vector<T> read_dataset(hid_t file, const std::string& path, const std::string& name, Want want,
                            hid_t mem_type) {
  const std::string abs = absolute(name);
  if (!object_exists(file, abs)) throw Error("dataset " + abs + " not found in HDF5 file " + path);
  Handle ds(H5Dopen2(file, abs.c_str(), H5P_DEFAULT), H5Dclose);
  if (!ds.ok()) throw Error(abs + " in HDF5 file " + path + " is not a dataset");
  Handle type(H5Dget_type(ds.get()), H5Tclose);
  if (!lossless(type.get(), want)) {
    throw Error("cannot read dataset " + abs + " in HDF5 file " + path + " as " + want_name(want) +
                ": it holds " + type_description(type.get()));
  }
  Handle space(H5Dget_space(ds.get()), H5Sclose);
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n < 0) throw Error("cannot read the extent of dataset " + abs + " in HDF5 file " + path);
  std::vector<T> out(static_cast<size_t>(n));
  if (n > 0 && H5Dread(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0) {
    throw Error("cannot read dataset " + abs + " in HDF5 file " + path + " (corrupt file?)");
  }
  return out;
}

std::string errno_text(int err) { return std::strerror(err); }

}  // namespace

// ---------------------------------------------------------------------------------------------- writer

H5Writer::H5Writer(const std::string& path)
    : path_(path), tmp_(path + ".tmp." + std::to_string(static_cast<long>(::getpid()))) {
  silence_hdf5();
  // Create the temporary with plain POSIX first: HDF5's failure does not say *why* (missing directory,
  // permissions), errno does.
  const int fd = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw Error("cannot create HDF5 file " + path_ + ": " + errno_text(errno));
  ::close(fd);
  Handle fapl = file_access();
  file_ = H5Fcreate(tmp_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get());
  if (file_ < 0) {
    ::unlink(tmp_.c_str());
    throw Error("cannot create HDF5 file " + path_ + " (temporary " + tmp_ + ")");
  }
}

H5Writer::~H5Writer() {
  if (file_ >= 0) H5Fclose(file_);
  if (!committed_) ::unlink(tmp_.c_str());
}

void H5Writer::write_raw(const std::string& name, hid_t type, const void* data,
                         const std::vector<hsize_t>& dims) {
  const std::string abs = absolute(name);
  if (file_ < 0) throw Error("cannot write dataset " + abs + ": HDF5 file " + path_ + " is already committed");
  if (abs == "/") throw Error("cannot write a dataset at the root of HDF5 file " + path_);
  if (object_exists(file_, abs)) {
    throw Error("cannot write dataset " + abs + " to HDF5 file " + path_ + ": the name exists already");
  }
  hsize_t n = 1;
  for (hsize_t d : dims) n *= d;
  if (n > 0 && data == nullptr) throw Error("cannot write dataset " + abs + " to HDF5 file " + path_ + ": no data");

  Handle space(dims.empty() ? H5Screate(H5S_SCALAR)
                            : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
               H5Sclose);
  if (!space.ok()) throw Error("cannot write dataset " + abs + " to HDF5 file " + path_ + ": bad dimensions");
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  Handle ds(H5Dcreate2(file_, abs.c_str(), type, space.get(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
  if (!ds.ok()) {
    throw Error("cannot create dataset " + abs + " in HDF5 file " + path_ +
                " (is a parent a dataset, or is the disk full?)");
  }
  if (n > 0 && H5Dwrite(ds.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
    throw Error("cannot write dataset " + abs + " to HDF5 file " + path_ + " (disk full?)");
  }
}

void H5Writer::write(const std::string& name, const float* data, const std::vector<hsize_t>& dims) {
  write_raw(name, H5T_NATIVE_FLOAT, data, dims);
}
void H5Writer::write(const std::string& name, const double* data, const std::vector<hsize_t>& dims) {
  write_raw(name, H5T_NATIVE_DOUBLE, data, dims);
}
void H5Writer::write(const std::string& name, const int32_t* data, const std::vector<hsize_t>& dims) {
  write_raw(name, H5T_NATIVE_INT32, data, dims);
}
void H5Writer::write(const std::string& name, const int64_t* data, const std::vector<hsize_t>& dims) {
  write_raw(name, H5T_NATIVE_INT64, data, dims);
}

void H5Writer::write_attr(const std::string& obj, const std::string& key, hid_t type, const void* value) {
  const std::string abs = absolute(obj);
  const std::string what = "attribute " + key + " on " + abs + " in HDF5 file " + path_;
  if (file_ < 0) throw Error("cannot write " + what + ": the file is already committed");
  if (key.empty()) throw Error("cannot write an attribute with an empty name on " + abs + " in " + path_);
  if (!object_exists(file_, abs)) {
    Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
    H5Pset_create_intermediate_group(lcpl.get(), 1);
    Handle g(H5Gcreate2(file_, abs.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    if (!g.ok()) throw Error("cannot create group " + abs + " in HDF5 file " + path_ + " for " + what);
  }
  Handle o(H5Oopen(file_, abs.c_str(), H5P_DEFAULT), H5Oclose);
  if (!o.ok()) throw Error("cannot open " + abs + " in HDF5 file " + path_ + " to write " + what);
  if (H5Aexists(o.get(), key.c_str()) > 0 && H5Adelete(o.get(), key.c_str()) < 0) {
    throw Error("cannot replace " + what);
  }
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle a(H5Acreate2(o.get(), key.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!a.ok() || H5Awrite(a.get(), type, value) < 0) throw Error("cannot write " + what);
}

void H5Writer::attr(const std::string& obj, const std::string& key, const std::string& value) {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  const char* c = value.c_str();  // variable-length strings are written from an array of char*
  write_attr(obj, key, type.get(), &c);
}
void H5Writer::attr(const std::string& obj, const std::string& key, int64_t value) {
  write_attr(obj, key, H5T_NATIVE_INT64, &value);
}
void H5Writer::attr_overflow(const std::string& obj, const std::string& key) const {
  throw Error("cannot write attribute " + key + " on " + absolute(obj) + " in HDF5 file " + path_ +
              ": the value does not fit in int64");
}
void H5Writer::attr(const std::string& obj, const std::string& key, double value) {
  write_attr(obj, key, H5T_NATIVE_DOUBLE, &value);
}

void H5Writer::commit() {
  if (committed_) throw Error("HDF5 file " + path_ + " is already committed");
  if (file_ < 0) throw Error("HDF5 file " + path_ + " is not open");
  const herr_t rc = H5Fclose(file_);
  file_ = -1;
  if (rc < 0) throw Error("cannot close HDF5 file " + path_ + " (disk full?)");
  // Durable before visible: the data reaches the disk before the rename publishes it.
  const int fd = ::open(tmp_.c_str(), O_RDONLY);
  if (fd < 0) throw Error("cannot reopen " + tmp_ + " to flush it: " + errno_text(errno));
  const bool synced = ::fsync(fd) == 0;
  const int sync_err = errno;
  ::close(fd);
  if (!synced) throw Error("cannot flush HDF5 file " + path_ + " to disk: " + errno_text(sync_err));
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    throw Error("cannot rename " + tmp_ + " onto " + path_ + ": " + errno_text(errno));
  }
  committed_ = true;
  // Best effort: persist the directory entry too.
  const size_t slash = path_.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path_.substr(0, slash));
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

// ---------------------------------------------------------------------------------------------- reader

H5Reader::H5Reader(const std::string& path) : path_(path) {
  silence_hdf5();
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw Error("cannot open HDF5 file " + path + ": " + errno_text(errno));
  struct stat st {};
  const bool is_dir = ::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
  ::close(fd);
  if (is_dir) throw Error("cannot open HDF5 file " + path + ": it is a directory");
  Handle fapl = file_access();
  file_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get());
  if (file_ < 0) {
    const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
    throw Error("cannot open HDF5 file " + path +
                (is_hdf5 > 0 ? ": the file is corrupt or truncated" : ": not an HDF5 file"));
  }
}

H5Reader::~H5Reader() {
  if (file_ >= 0) H5Fclose(file_);
}

bool H5Reader::has(const std::string& name) const { return object_exists(file_, name); }

std::vector<hsize_t> H5Reader::dims(const std::string& name) const {
  const std::string abs = absolute(name);
  if (!object_exists(file_, abs)) throw Error("dataset " + abs + " not found in HDF5 file " + path_);
  Handle ds(H5Dopen2(file_, abs.c_str(), H5P_DEFAULT), H5Dclose);
  if (!ds.ok()) throw Error(abs + " in HDF5 file " + path_ + " is not a dataset");
  Handle space(H5Dget_space(ds.get()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) throw Error("cannot read the extent of dataset " + abs + " in HDF5 file " + path_);
  std::vector<hsize_t> out(static_cast<size_t>(rank));
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), out.data(), nullptr);
  return out;
}

std::vector<float> H5Reader::read_float(const std::string& name) const {
  return read_dataset<float>(file_, path_, name, Want::F32, H5T_NATIVE_FLOAT);
}
std::vector<double> H5Reader::read_double(const std::string& name) const {
  return read_dataset<double>(file_, path_, name, Want::F64, H5T_NATIVE_DOUBLE);
}
std::vector<int32_t> H5Reader::read_int32(const std::string& name) const {
  return read_dataset<int32_t>(file_, path_, name, Want::I32, H5T_NATIVE_INT32);
}
std::vector<int64_t> H5Reader::read_int64(const std::string& name) const {
  return read_dataset<int64_t>(file_, path_, name, Want::I64, H5T_NATIVE_INT64);
}

bool H5Reader::has_attr(const std::string& obj, const std::string& key) const {
  const std::string abs = absolute(obj);
  if (!object_exists(file_, abs)) return false;
  return H5Aexists_by_name(file_, abs.c_str(), key.c_str(), H5P_DEFAULT) > 0;
}

namespace {

// An open scalar attribute plus its stored type; throws naming the attribute when it is missing.
struct OpenAttr {
  Handle attr{-1, H5Aclose};
  Handle type{-1, H5Tclose};
  std::string what;
};

void open_attr(hid_t file, const std::string& path, const std::string& obj, const std::string& key,
               OpenAttr& out) {
  const std::string abs = absolute(obj);
  out.what = "attribute " + key + " on " + abs + " in HDF5 file " + path;
  if (!object_exists(file, abs)) throw Error(out.what + " not found: " + abs + " does not exist");
  if (H5Aexists_by_name(file, abs.c_str(), key.c_str(), H5P_DEFAULT) <= 0) throw Error(out.what + " not found");
  out.attr.reset(H5Aopen_by_name(file, abs.c_str(), key.c_str(), H5P_DEFAULT, H5P_DEFAULT));
  if (!out.attr.ok()) throw Error("cannot open " + out.what);
  out.type.reset(H5Aget_type(out.attr.get()));
  Handle space(H5Aget_space(out.attr.get()), H5Sclose);
  if (H5Sget_simple_extent_npoints(space.get()) != 1) throw Error(out.what + " is not a single value");
}

}  // namespace

std::string H5Reader::attr_string(const std::string& obj, const std::string& key) const {
  OpenAttr a;
  open_attr(file_, path_, obj, key, a);
  if (H5Tget_class(a.type.get()) != H5T_STRING) {
    throw Error(a.what + " is not a string: it holds " + type_description(a.type.get()));
  }
  Handle mem(H5Tcopy(a.type.get()), H5Tclose);
  if (H5Tis_variable_str(a.type.get()) > 0) {
    char* buf = nullptr;
    if (H5Aread(a.attr.get(), mem.get(), &buf) < 0) throw Error("cannot read " + a.what);
    std::string s = buf ? std::string(buf) : std::string();
    if (buf) H5free_memory(buf);
    return s;
  }
  const size_t size = H5Tget_size(a.type.get());
  std::vector<char> buf(size + 1, '\0');
  if (H5Aread(a.attr.get(), mem.get(), buf.data()) < 0) throw Error("cannot read " + a.what);
  std::string s(buf.data(), ::strnlen(buf.data(), size));
  if (H5Tget_strpad(a.type.get()) == H5T_STR_SPACEPAD) {
    while (!s.empty() && s.back() == ' ') s.pop_back();
  }
  return s;
}

int64_t H5Reader::attr_int(const std::string& obj, const std::string& key) const {
  OpenAttr a;
  open_attr(file_, path_, obj, key, a);
  if (!lossless(a.type.get(), Want::I64)) {
    throw Error(a.what + " is not an integer: it holds " + type_description(a.type.get()));
  }
  int64_t v = 0;
  if (H5Aread(a.attr.get(), H5T_NATIVE_INT64, &v) < 0) throw Error("cannot read " + a.what);
  return v;
}

double H5Reader::attr_double(const std::string& obj, const std::string& key) const {
  OpenAttr a;
  open_attr(file_, path_, obj, key, a);
  const H5T_class_t cls = H5Tget_class(a.type.get());
  if (!(cls == H5T_INTEGER || (cls == H5T_FLOAT && H5Tget_size(a.type.get()) <= 8))) {
    throw Error(a.what + " is not a number: it holds " + type_description(a.type.get()));
  }
  double v = 0;
  if (H5Aread(a.attr.get(), H5T_NATIVE_DOUBLE, &v) < 0) throw Error("cannot read " + a.what);
  return v;
}

std::vector<std::string> H5Reader::list(const std::string& group) const {
  const std::string abs = absolute(group);
  if (!object_exists(file_, abs)) throw Error("group " + abs + " not found in HDF5 file " + path_);
  Handle g(H5Oopen(file_, abs.c_str(), H5P_DEFAULT), H5Oclose);
  if (!g.ok()) throw Error("cannot open group " + abs + " in HDF5 file " + path_);
  if (H5Iget_type(g.get()) != H5I_GROUP) throw Error(abs + " in HDF5 file " + path_ + " is not a group");
  H5G_info_t ginfo{};
  if (H5Gget_info(g.get(), &ginfo) < 0) throw Error("cannot list group " + abs + " in HDF5 file " + path_);
  std::vector<std::string> names;
  names.reserve(ginfo.nlinks);
  for (hsize_t i = 0; i < ginfo.nlinks; ++i) {
    const ssize_t len = H5Lget_name_by_idx(g.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (len < 0) throw Error("cannot list group " + abs + " in HDF5 file " + path_);
    std::string name(static_cast<size_t>(len) + 1, '\0');
    H5Lget_name_by_idx(g.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, &name[0], name.size(), H5P_DEFAULT);
    name.resize(static_cast<size_t>(len));
    names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool H5Reader::is_group(const std::string& name) const {
  const std::string abs = absolute(name);
  if (!object_exists(file_, abs)) return false;
  Handle o(H5Oopen(file_, abs.c_str(), H5P_DEFAULT), H5Oclose);
  return o.ok() && H5Iget_type(o.get()) == H5I_GROUP;
}

std::string H5Reader::dtype(const std::string& name) const {
  const std::string abs = absolute(name);
  if (!object_exists(file_, abs)) throw Error("dataset " + abs + " not found in HDF5 file " + path_);
  Handle ds(H5Dopen2(file_, abs.c_str(), H5P_DEFAULT), H5Dclose);
  if (!ds.ok()) throw Error(abs + " in HDF5 file " + path_ + " is not a dataset");
  Handle type(H5Dget_type(ds.get()), H5Tclose);
  return type_description(type.get());
}

std::vector<std::string> H5Reader::attrs(const std::string& obj) const {
  const std::string abs = absolute(obj);
  if (!object_exists(file_, abs)) throw Error("object " + abs + " not found in HDF5 file " + path_);
  Handle o(H5Oopen(file_, abs.c_str(), H5P_DEFAULT), H5Oclose);
  if (!o.ok()) throw Error("cannot open " + abs + " in HDF5 file " + path_);
  const int n = H5Aget_num_attrs(o.get());
  if (n < 0) throw Error("cannot list the attributes of " + abs + " in HDF5 file " + path_);
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) {
    const ssize_t len = H5Aget_name_by_idx(o.get(), ".", H5_INDEX_NAME, H5_ITER_INC, static_cast<hsize_t>(i),
                                           nullptr, 0, H5P_DEFAULT);
    if (len < 0) throw Error("cannot list the attributes of " + abs + " in HDF5 file " + path_);
    std::string name(static_cast<size_t>(len) + 1, '\0');
    H5Aget_name_by_idx(o.get(), ".", H5_INDEX_NAME, H5_ITER_INC, static_cast<hsize_t>(i), &name[0], name.size(),
                       H5P_DEFAULT);
    name.resize(static_cast<size_t>(len));
    names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace parity
