#include "reference/checkpoint.hpp"

#include <cmath>

#include <filesystem>

#include "kernels/error.hpp"
#include "reference/h5io.hpp"
#include "reference/run_definition.hpp"

namespace parity {

namespace {
std::vector<hsize_t> dims_of(const TensorInfo& t) { return {t.file_shape.begin(), t.file_shape.end()}; }

void write_tensors(H5Writer& w, const std::string& group, const ParamLayout& layout, const float* flat) {
  std::vector<float> buf;
  for (const auto& t : layout.tensors()) {
    buf.resize(layout.file_size(t));
    layout.to_file(t, flat + t.offset, buf.data());
    w.write(group + t.name, buf.data(), dims_of(t));
  }
}

void read_tensors(const H5Reader& r, const std::string& path, const std::string& group, const ParamLayout& layout,
                  float* flat) {
  for (const auto& t : layout.tensors()) {
    const std::string name = group + t.name;
    if (!r.has(name)) throw Error("checkpoint " + path + " lacks " + name);
    if (r.dims(name) != dims_of(t)) throw Error("checkpoint " + path + ": " + name + " has the wrong shape");
    const std::vector<float> buf = r.read_float(name);
    // A moment or weight that is not finite (or a negative second moment) would poison every later step: it
    // is refused by name instead of resumed from.
    const bool second_moment = group == "/adam/v/";
    for (size_t i = 0; i < buf.size(); ++i)
      if (!std::isfinite(buf[i]) || (second_moment && buf[i] < 0))
        throw Error("checkpoint " + path + ": " + name + " holds " +
                    (std::isnan(buf[i]) ? std::string("NaN") : std::isinf(buf[i]) ? std::string("an infinity")
                                                                                   : std::string("a negative value")) +
                    " at flat index " + std::to_string(i) + "; refusing to resume from it");
    layout.from_file(t, buf.data(), flat + t.offset);
  }
}

// The fields that a resumed run must share with the checkpoint (the table's in_checkpoint fields).
void write_run_shape(H5Writer& w, const TrainConfig& c) {
  w.attr("/", "format", std::string("parity-checkpoint-1"));
  for (const RunField& f : run_fields()) {
    if (!f.in_checkpoint) continue;
    if (f.kind == FieldKind::integer) w.attr("/", f.key, static_cast<int64_t>(std::stoll(f.get(c))));
    else w.attr("/", f.key, f.get(c));
  }
}
}  // namespace

std::string checkpoint_path(const std::string& pattern, long step) {
  std::string p = pattern;
  for (auto at = p.find("{step}"); at != std::string::npos; at = p.find("{step}"))
    p.replace(at, 6, std::to_string(step));
  return p;
}

void save_checkpoint(const std::string& path, const TrainConfig& c, const ParamLayout& layout, const TrainState& s) {
  H5Writer w(path);
  write_run_shape(w, c);
  w.attr("/", "step", static_cast<int64_t>(s.step));
  // The next step reads global rows from here on (docs/design.md, canonical order rule 1: the data position).
  w.attr("/", "data_row", static_cast<int64_t>(s.step * c.micro_batches * c.micro_batch_size));
  w.attr("/", "updates", static_cast<int64_t>(s.updates));
  w.attr("/", "loss_scale", s.loss_scale);
  w.attr("/", "loss_scale_growth_tracker", static_cast<int64_t>(s.scaler_growth));
  w.attr("/", "loss_scale_hysteresis_tracker", static_cast<int64_t>(s.scaler_hysteresis));
  write_tensors(w, "/params/", layout, s.params.data());
  write_tensors(w, "/adam/m/", layout, s.m.data());
  write_tensors(w, "/adam/v/", layout, s.v.data());
  w.commit();
}

void load_checkpoint(const std::string& path, const TrainConfig& c, const ParamLayout& layout, TrainState& s) {
  H5Reader r(path);
  if (!r.has_attr("/", "format") || r.attr_string("/", "format") != "parity-checkpoint-1")
    throw Error("checkpoint " + path + " is not a parity checkpoint (no format attribute 'parity-checkpoint-1')");
  auto same_data = [](const std::string& a, const std::string& b) {
    std::error_code e1, e2;
    const auto ca = std::filesystem::weakly_canonical(a, e1), cb = std::filesystem::weakly_canonical(b, e2);
    return a == b || (!e1 && !e2 && std::filesystem::exists(ca) && ca == cb);
  };
  for (const RunField& f : run_fields()) {
    if (!f.in_checkpoint || f.key == "numerics") continue;  // an exact checkpoint may continue in fast numerics
    const std::string here = f.get(c);
    const std::string there = f.kind == FieldKind::integer ? std::to_string(r.attr_int("/", f.key)) : r.attr_string("/", f.key);
    const bool quoted = f.kind == FieldKind::text;
    if (f.key == "data" ? !same_data(there, here) : there != here)
      throw Error("checkpoint " + path + " does not match this run: " + f.key + " is " + (quoted ? "'" + there + "'" : there) +
                  " in the file, " + (quoted ? "'" + here + "'" : here) + " here");
  }
  s.step = r.attr_int("/", "step");
  s.updates = r.attr_int("/", "updates");
  s.loss_scale = r.attr_double("/", "loss_scale");
  s.scaler_growth = r.attr_int("/", "loss_scale_growth_tracker");
  s.scaler_hysteresis = r.attr_int("/", "loss_scale_hysteresis_tracker");
  if (s.step < 0 || s.step > c.steps)
    throw Error("checkpoint " + path + " is at step " + std::to_string(s.step) + ", beyond --steps " +
                std::to_string(c.steps));
  s.params.assign(layout.total(), 0.0f);
  s.m.assign(layout.total(), 0.0f);
  s.v.assign(layout.total(), 0.0f);
  read_tensors(r, path, "/params/", layout, s.params.data());
  read_tensors(r, path, "/adam/m/", layout, s.m.data());
  read_tensors(r, path, "/adam/v/", layout, s.v.data());
}

void write_grad_dump(const std::string& path, const TrainConfig& c, const ParamLayout& layout, const float* grads,
                     const std::vector<int32_t>& inputs, const std::vector<int32_t>& targets, float loss, long step) {
  H5Writer w(path);
  write_run_shape(w, c);
  w.attr("/", "step", static_cast<int64_t>(step));
  w.attr("/", "loss", static_cast<double>(loss));
  w.attr("/", "note", std::string("gradients of the mean loss before clipping, fp32, file layout"));
  const hsize_t rows = static_cast<hsize_t>(c.micro_batches * c.micro_batch_size);
  w.write("/batch/inputs", inputs.data(), {rows, static_cast<hsize_t>(c.model.T)});
  w.write("/batch/targets", targets.data(), {rows, static_cast<hsize_t>(c.model.T)});
  write_tensors(w, "/grads/", layout, grads);
  w.commit();
}

}  // namespace parity
