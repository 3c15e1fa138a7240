#include "harness/merge.hpp"

#include <fcntl.h>
#include <hdf5.h>
#include <unistd.h>

#include <cstdio>

#include "kernels/error.hpp"

namespace parity::sweep {
namespace {

// Closes an HDF5 handle with the right function when it goes out of scope.
struct Handle {
  hid_t id = -1;
  herr_t (*close)(hid_t) = nullptr;
  Handle(hid_t i, herr_t (*c)(hid_t)) : id(i), close(c) {}
  ~Handle() {
    if (id >= 0 && close) close(id);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  operator hid_t() const { return id; }
};

class Merger {
 public:
  explicit Merger(const std::string& path) : path_(path) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw Error("cannot write sweep results " + path_ + ": " + what);
  }

  void set_attr(hid_t file, const std::string& obj, const std::string& key, const AttrValue& v) {
    Handle o(H5Oopen(file, obj.c_str(), H5P_DEFAULT), H5Oclose);
    if (o < 0) fail("cannot open " + obj + " to set attribute " + key);
    if (H5Aexists(o, key.c_str()) > 0 && H5Adelete(o, key.c_str()) < 0) fail("cannot replace attribute " + obj + "@" + key);
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    herr_t rc = -1;
    if (const auto* s = std::get_if<std::string>(&v)) {
      Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
      H5Tset_size(t, H5T_VARIABLE);
      H5Tset_cset(t, H5T_CSET_UTF8);
      Handle a(H5Acreate2(o, key.c_str(), t, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
      const char* c = s->c_str();
      rc = a < 0 ? -1 : H5Awrite(a, t, &c);
    } else if (const auto* i = std::get_if<int64_t>(&v)) {
      Handle a(H5Acreate2(o, key.c_str(), H5T_NATIVE_INT64, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
      rc = a < 0 ? -1 : H5Awrite(a, H5T_NATIVE_INT64, i);
    } else {
      const double d = std::get<double>(v);
      Handle a(H5Acreate2(o, key.c_str(), H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
      rc = a < 0 ? -1 : H5Awrite(a, H5T_NATIVE_DOUBLE, &d);
    }
    if (rc < 0) fail("cannot write attribute " + obj + "@" + key);
  }

  void ensure_group(hid_t file, const std::string& path) {
    if (path == "/" || H5Lexists(file, path.c_str(), H5P_DEFAULT) > 0) return;
    const auto slash = path.rfind('/');
    if (slash > 0) ensure_group(file, path.substr(0, slash));
    Handle g(H5Gcreate2(file, path.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    if (g < 0) fail("cannot create group " + path);
  }

  void write(const Attrs& root, const std::vector<MergeGroup>& groups) {
    const std::string tmp = path_ + ".tmp." + std::to_string(getpid());
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    try {
      {
        Handle file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
        if (file < 0) fail("cannot create " + tmp + " (does the directory exist and is it writable?)");
        for (const auto& [k, v] : root) set_attr(file, "/", k, v);
        for (const MergeGroup& g : groups) {
          const auto slash = g.path.rfind('/');
          if (slash > 0) ensure_group(file, g.path.substr(0, slash));
          if (!g.source_file.empty()) {
            Handle src(H5Fopen(g.source_file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
            if (src < 0) fail("cannot open " + g.source_file + " to copy " + g.source_path);
            if (H5Lexists(src, g.source_path.c_str(), H5P_DEFAULT) <= 0)
              fail(g.source_file + " has no " + g.source_path);
            if (H5Ocopy(src, g.source_path.c_str(), file, g.path.c_str(), H5P_DEFAULT, H5P_DEFAULT) < 0)
              fail("cannot copy " + g.source_path + " of " + g.source_file + " to " + g.path);
          } else {
            ensure_group(file, g.path);
          }
          for (const auto& [k, v] : g.attrs) set_attr(file, g.path, k, v);
        }
        if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0) fail("cannot flush " + tmp);
      }
      const int fd = open(tmp.c_str(), O_RDONLY);
      if (fd >= 0) {
        fsync(fd);
        close(fd);
      }
      if (std::rename(tmp.c_str(), path_.c_str()) != 0) fail("cannot rename " + tmp + " onto it");
    } catch (...) {
      std::remove(tmp.c_str());
      throw;
    }
  }

 private:
  std::string path_;
};

}  // namespace

void write_merged(const std::string& path, const Attrs& root, const std::vector<MergeGroup>& groups) {
  Merger(path).write(root, groups);
}

}  // namespace parity::sweep
