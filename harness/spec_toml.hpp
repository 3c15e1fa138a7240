// Typed reading of a parsed TOML spec, every mistake reported as "PATH:LINE: key 'k' ..." so that the user
// finds the spot (docs/sweeps.md). Used by spec_parse.cpp only; toml++ stays out of spec.hpp.
#pragma once
#include <algorithm>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "kernels/error.hpp"
#include "reference/run_definition.hpp"

namespace parity::sweep {

// "a string", "an integer", ...: the type a value has, for messages.
const char* toml_type_name(const toml::node& n);
long line_of(const toml::node& n);
long line_of(const toml::key& k);

class TomlReader {
 public:
  explicit TomlReader(const std::string& path) : path_(path) {}

  [[noreturn]] void fail(long line, const std::string& what) const;

  long integer(const toml::node& n, const std::string& key, long lo, long hi) const;
  double number(const toml::node& n, const std::string& key) const;  // an integer or a float
  std::string string(const toml::node& n, const std::string& key) const;
  std::string choice(const toml::node& n, const std::string& key, const std::vector<std::string>& allowed) const;
  std::vector<std::string> strings(const toml::node& n, const std::string& key) const;  // an array of strings

  // Sets run field f of c from n (an integer, number or string as f's kind wants), range-checked by the field
  // itself; its message names the spec key instead of the flag.
  void field(const toml::node& n, const std::string& key, const RunField& f, TrainConfig& c) const;
  // One of the values of an enumerated run field (precision, numerics, schedule), spelled as the field spells it.
  template <class E>
  E enumerated(const toml::node& n, const std::string& key, const RunField& f) const {
    const std::string v = choice(n, key, f.choices);
    return static_cast<E>(std::find(f.choices.begin(), f.choices.end(), v) - f.choices.begin());
  }

  // A list, or a single value standing for a list of one; duplicates dropped, order kept.
  template <class T, class F>
  std::vector<T> list(const toml::node& n, const std::string& key, F element) const {
    std::vector<T> out;
    auto add = [&](const toml::node& e) {
      T v = element(e);
      if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
    };
    if (const toml::array* a = n.as_array()) {
      if (a->empty()) fail(line_of(n), "key '" + key + "' is an empty list");
      for (const toml::node& e : *a) add(e);
    } else {
      add(n);
    }
    return out;
  }

  // A key that is not one of `known` in table `where` ("" for the top level).
  [[noreturn]] void unknown(const toml::key& k, const std::string& where, const std::vector<std::string>& known) const;

 private:
  std::string path_;
};

}  // namespace parity::sweep
