// The report's plots (docs/reports.md, "The plots"): loss curves over the baseline, and throughput against
// ranks with the ideal line; one of each per precision and numerics (and model when the sweep has several).
#include <algorithm>
#include <map>

#include "harness/plot_svg.hpp"
#include "harness/report.hpp"
#include "harness/report_figures.hpp"
#include "harness/report_files.hpp"
#include "harness/report_runs.hpp"

namespace parity::report {
namespace {

using sweep::Verdict;

plot::Series loss_series(const Run& r, bool is_base, size_t& colour) {
  plot::Series x;
  x.label = r.id;
  if (r.verdict != Verdict::none && r.verdict != Verdict::baseline)
    x.label += std::string(" (") + to_string(r.verdict) + ")";
  x.x = r.step;
  x.y = r.loss;
  if (is_base) {
    x.color = "#000000";
    x.width = 4;
  } else {
    x.color = plot::palette(colour++);
    x.width = 1.5;
  }
  return x;
}

// Every run with a loss series; baselines first, thick and black, the rest thin on top. Fast runs are judged
// against the exact baseline, so a group without one draws its 1-rank run as the reference instead.
plot::Chart loss_chart(const GroupKey& key, const std::vector<const Run*>& runs) {
  plot::Chart c;
  c.title = "Loss, " + key.label();
  c.x_label = "step";
  c.integer_x = true;
  c.y_label = "loss";
  const bool has_baseline = std::any_of(runs.begin(), runs.end(), [](const Run* r) {
    return r->verdict == Verdict::baseline && !r->loss.empty();
  });
  size_t bitwise = 0, colour = 0;
  for (int pass = 0; pass < 2; ++pass) {
    for (const Run* r : runs) {
      if (r->loss.empty()) continue;
      const bool is_base = has_baseline ? r->verdict == Verdict::baseline : r->ranks == 1;
      if (is_base != (pass == 0)) continue;
      c.series.push_back(loss_series(*r, is_base, colour));
      if (!is_base && r->verdict == Verdict::bitwise) ++bitwise;
    }
  }
  const size_t n = c.series.size();
  c.subtitle = std::to_string(n) + (n == 1 ? " run" : " runs") + "; " + (has_baseline ? "baseline" : "the 1-rank run") +
               " thick and black";
  if (bitwise > 0) c.subtitle += "; " + std::to_string(bitwise) + " bit-identical to it (their curves lie on it)";
  return c;
}

// The kind of parallelism of a run: which degrees are > 1, plus schedule, ZeRO and (when it varies) the batch.
std::string family(const Run& r, const Varying& var) {
  std::string f;
  if (r.dp > 1) f += "DP";
  if (r.tp > 1) f += std::string(f.empty() ? "" : "×") + "TP";
  if (r.pp > 1) f += std::string(f.empty() ? "" : "×") + "PP";
  if (!schedule_of(r).empty()) f += " " + schedule_of(r);
  if (r.zero > 0) f += " ZeRO-" + std::to_string(r.zero);
  if (var.batch) f += " " + batch_label(r);
  return f;
}

plot::Series ideal_series(const Run& base, double max_ranks) {
  plot::Series ideal;
  ideal.label = "ideal (linear from " + base.id + ")";
  ideal.color = "#888888";
  ideal.dashed = true;
  ideal.width = 1.5;
  const double b = median_tokens_per_second(base);
  for (double n = 1; n <= max_ranks * 1.0001; n *= 2) {
    ideal.x.push_back(n);
    ideal.y.push_back(b * n);
  }
  return ideal;
}

plot::Series family_series(const std::string& f, std::vector<std::pair<double, double>> pts, const Run* base,
                           size_t colour) {
  std::stable_sort(pts.begin(), pts.end());
  plot::Series x;
  x.label = f;
  x.color = plot::palette(colour);
  x.markers = true;
  x.width = 2;
  if (base) {
    x.x.push_back(1);
    x.y.push_back(median_tokens_per_second(*base));
  }
  for (const auto& [n, t] : pts) {
    x.x.push_back(n);
    x.y.push_back(t);
  }
  return x;
}

plot::Series lone_base_series(const Run& base) {
  plot::Series x;
  x.label = base.id;
  x.color = plot::palette(0);
  x.markers = true;
  x.x = {1};
  x.y = {median_tokens_per_second(base)};
  return x;
}

// Tokens/s against ranks, one series per kind of parallelism (each starting at the 1-rank run), and the ideal
// line from the 1-rank run.
plot::Chart scaling_chart(const GroupKey& key, const std::vector<const Scaling*>& xs, const Varying& var) {
  plot::Chart c;
  c.title = "Throughput, " + key.label();
  c.subtitle = "median tokens/s over the steps after the first";
  c.x_label = "ranks";
  c.y_label = "tokens/s";
  c.log2_x = true;
  c.y_from_zero = true;
  std::map<std::string, std::vector<std::pair<double, double>>> fam;
  const Run* base = nullptr;
  double max_ranks = 1;
  for (const Scaling* x : xs) {
    const Run& r = *x->run;
    max_ranks = std::max(max_ranks, static_cast<double>(r.ranks));
    if (r.ranks == 1) {
      if (!base) base = &r;
      continue;
    }
    fam[family(r, var)].emplace_back(static_cast<double>(r.ranks), x->tps);
    if (!base && x->base) base = x->base;
  }
  if (base) c.series.push_back(ideal_series(*base, max_ranks));
  size_t colour = 0;
  for (const auto& [f, pts] : fam) c.series.push_back(family_series(f, pts, base, colour++));
  if (fam.empty() && base) c.series.push_back(lone_base_series(*base));
  return c;
}

}  // namespace

std::vector<std::string> write_plots(const Sweep& s, const std::string& dir, bool png) {
  std::vector<std::string> written;
  auto emit = [&](const std::string& name, const plot::Chart& c) {
    const std::string svg = dir + "/" + name + ".svg";
    write_text(svg, plot::render_svg(c));
    written.push_back(svg);
    if (png) {
      to_png(svg, dir + "/" + name + ".png");
      written.push_back(dir + "/" + name + ".png");
    }
  };
  const Varying var = varying(s);
  std::map<GroupKey, std::vector<const Run*>> groups;
  for (const Run* r : sorted_runs(s.runs)) groups[group_of(*r, var.model)].push_back(r);
  for (const auto& [key, runs] : groups) {
    const plot::Chart c = loss_chart(key, runs);
    if (!c.series.empty()) emit("loss-" + key.slug(), c);
  }
  // The throughput does not depend on the peak; no peak: no MFU, which the plots do not show.
  const std::vector<Scaling> rows = scaling_rows(s, Peak{});
  std::map<GroupKey, std::vector<const Scaling*>> sgroups;
  for (const Scaling& x : rows) sgroups[group_of(*x.run, var.model)].push_back(&x);
  for (const auto& [key, xs] : sgroups) emit("scaling-" + key.slug(), scaling_chart(key, xs, var));
  return written;
}

}  // namespace parity::report
