#include "harness/spec_toml.hpp"

#include <climits>
#include <cstdio>

namespace parity::sweep {
namespace {

std::string joined(const std::vector<std::string>& words) {
  std::string all;
  for (const auto& a : words) all += (all.empty() ? "" : ", ") + a;
  return all;
}

}  // namespace

const char* toml_type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

long line_of(const toml::node& n) { return static_cast<long>(n.source().begin.line); }
long line_of(const toml::key& k) { return static_cast<long>(k.source().begin.line); }

void TomlReader::fail(long line, const std::string& what) const {
  throw Error(path_ + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": " + what);
}

long TomlReader::integer(const toml::node& n, const std::string& key, long lo, long hi) const {
  if (!n.is_integer()) fail(line_of(n), "key '" + key + "' must be an integer (got " + toml_type_name(n) + ")");
  const long v = static_cast<long>(n.as_integer()->get());
  if (v < lo || v > hi)
    fail(line_of(n), "key '" + key + "' = " + std::to_string(v) + " is out of range [" + std::to_string(lo) + ", " +
                         std::to_string(hi) + "]");
  return v;
}

double TomlReader::number(const toml::node& n, const std::string& key) const {
  if (n.is_integer()) return static_cast<double>(n.as_integer()->get());
  if (!n.is_floating_point()) fail(line_of(n), "key '" + key + "' must be a number (got " + toml_type_name(n) + ")");
  return n.as_floating_point()->get();
}

std::string TomlReader::string(const toml::node& n, const std::string& key) const {
  if (!n.is_string()) fail(line_of(n), "key '" + key + "' must be a string (got " + toml_type_name(n) + ")");
  return n.as_string()->get();
}

std::string TomlReader::choice(const toml::node& n, const std::string& key,
                               const std::vector<std::string>& allowed) const {
  const std::string v = string(n, key);
  if (std::find(allowed.begin(), allowed.end(), v) == allowed.end())
    fail(line_of(n), "key '" + key + "' = \"" + v + "\" is not one of " + joined(allowed));
  return v;
}

std::vector<std::string> TomlReader::strings(const toml::node& n, const std::string& key) const {
  const toml::array* a = n.as_array();
  if (!a) fail(line_of(n), "key '" + key + "' must be an array of strings (got " + toml_type_name(n) + ")");
  std::vector<std::string> out;
  for (const toml::node& e : *a) {
    if (!e.is_string())
      fail(line_of(e), "key '" + key + "' must be an array of strings (an element is " + toml_type_name(e) + ")");
    out.push_back(e.as_string()->get());
  }
  return out;
}

void TomlReader::field(const toml::node& n, const std::string& key, const RunField& f, TrainConfig& c) const {
  std::string text;
  if (f.kind == FieldKind::integer) {
    text = std::to_string(integer(n, key, LONG_MIN, LONG_MAX));
  } else if (f.kind == FieldKind::real) {
    char buf[40];  // 17 digits read back as the same double, which the field rounds as it rounds a flag
    std::snprintf(buf, sizeof buf, "%.17g", number(n, key));
    text = buf;
  } else {
    text = f.kind == FieldKind::choice ? choice(n, key, f.choices) : string(n, key);
  }
  try {
    f.set(c, text);
  } catch (const Error& e) {
    std::string why = e.what();
    if (why.rfind(f.flag, 0) == 0) why = "key '" + key + "'" + why.substr(f.flag.size());
    fail(line_of(n), why);
  }
}

void TomlReader::unknown(const toml::key& k, const std::string& where, const std::vector<std::string>& known) const {
  fail(line_of(k), "unknown key '" + std::string(k.str()) + "'" + (where.empty() ? "" : " in [" + where + "]") +
                       " (known: " + joined(known) + ")");
}

}  // namespace parity::sweep
