// Hand-written SVG line charts (see plot_svg.hpp).
#include "harness/plot_svg.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace parity::plot {
namespace {

std::string esc(const std::string& s) {
  std::string o;
  for (char ch : s) {
    switch (ch) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o += ch;
    }
  }
  return o;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// Coordinates with two decimals: enough for a screen, stable as text.
std::string px(double v) { return fmt("%.2f", v); }

// A step of 1, 2, 2.5 or 5 times a power of ten giving about `target` intervals over `span`.
double nice_step(double span, int target) {
  if (!(span > 0)) return 1;
  const double raw = span / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double r = raw / mag;
  const double m = r <= 1 ? 1 : r <= 2 ? 2 : r <= 2.5 ? 2.5 : r <= 5 ? 5 : 10;
  return m * mag;
}

// Tick label with as many decimals as the step needs.
std::string tick_label(double v, double step) {
  if (std::fabs(v) < step * 1e-9) v = 0;
  int decimals = 0;
  if (step < 1) {
    decimals = static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
    // 0.25, 0.025: one more digit than the power of ten says.
    const double scaled = step * std::pow(10.0, decimals);
    if (std::fabs(scaled - std::round(scaled)) > 1e-6) ++decimals;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

struct Axis {
  double lo, hi;             // data range after rounding to ticks (linear, or log2 units for log2 axes)
  std::vector<double> ticks; // in axis units
  std::vector<std::string> labels;
};

Axis linear_axis(double lo, double hi, bool from_zero, double min_step = 0) {
  if (from_zero) lo = std::min(0.0, lo);
  if (!(hi > lo)) {
    const double pad = lo == 0 ? 1 : std::fabs(lo) * 0.05;
    lo -= pad;
    hi += pad;
  }
  const double step = std::max(min_step, nice_step(hi - lo, 5));
  Axis a;
  a.lo = std::floor(lo / step + 1e-9) * step;
  a.hi = std::ceil(hi / step - 1e-9) * step;
  for (int i = 0;; ++i) {
    const double t = a.lo + i * step;
    if (t > a.hi + step * 1e-6) break;
    a.ticks.push_back(t);
    a.labels.push_back(tick_label(t, step));
  }
  return a;
}

Axis log2_axis(double lo, double hi) {
  Axis a;
  a.lo = std::floor(std::log2(lo) + 1e-9);
  a.hi = std::ceil(std::log2(hi) - 1e-9);
  if (a.hi <= a.lo) a.hi = a.lo + 1;
  for (double e = a.lo; e <= a.hi + 1e-9; e += 1) {
    a.ticks.push_back(e);
    a.labels.push_back(fmt("%.0f", std::pow(2.0, e)));
  }
  return a;
}

// A point that can be drawn: both coordinates finite, and x > 0 on a log2 axis.
bool drawable(const Chart& c, double x, double y) {
  return std::isfinite(x) && std::isfinite(y) && !(c.log2_x && x <= 0);
}

// Where things go on the canvas: the axes' ranges and the plot area (the legend to its right, wide enough for
// its longest label; the canvas tall enough for the legend, 17 px a line below the title).
struct Frame {
  double W, H, left, top, bottom, right;
  bool log2_x, empty;
  Axis ax, ay;
  double XU(double u) const { return left + (u - ax.lo) / (ax.hi - ax.lo) * (right - left); }
  double X(double x) const { return XU(log2_x ? std::log2(x) : x); }
  double Y(double y) const { return bottom - (y - ay.lo) / (ay.hi - ay.lo) * (bottom - top); }
};

Frame frame_of(const Chart& c) {
  Frame f;
  f.W = c.width;
  f.H = std::max<double>(c.height, 64 + 17.0 * c.series.size() + 70);
  f.log2_x = c.log2_x;
  // Data range over the drawable points.
  double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
  for (const Series& s : c.series) {
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!drawable(c, s.x[i], s.y[i])) continue;
      xlo = std::min(xlo, s.x[i]);
      xhi = std::max(xhi, s.x[i]);
      ylo = std::min(ylo, s.y[i]);
      yhi = std::max(yhi, s.y[i]);
    }
  }
  f.empty = !(xlo <= xhi);
  if (f.empty) {
    xlo = c.log2_x ? 1 : 0;
    xhi = c.log2_x ? 2 : 1;
    ylo = 0;
    yhi = 1;
  }
  f.ax = c.log2_x ? log2_axis(xlo, xhi) : linear_axis(xlo, xhi, false, c.integer_x ? 1 : 0);
  f.ay = linear_axis(ylo, yhi, c.y_from_zero);
  size_t longest = 0;
  for (const Series& s : c.series) longest = std::max(longest, s.label.size());
  const double legend_w = c.series.empty() ? 0 : std::min(380.0, std::max(140.0, 6.6 * longest + 46));
  f.left = 78;
  f.top = c.subtitle.empty() ? 48 : 64;
  f.bottom = f.H - 58;
  f.right = f.W - legend_w - 24;
  return f;
}

std::string svg_head(const Chart& c, const Frame& f) {
  std::string o;
  o += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  o += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + fmt("%.0f", f.W) + "\" height=\"" + fmt("%.0f", f.H) +
       "\" viewBox=\"0 0 " + fmt("%.0f", f.W) + " " + fmt("%.0f", f.H) +
       "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n";
  o += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  const std::string mid = px((f.left + f.right) / 2);
  o += "<text x=\"" + mid + "\" y=\"24\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">" + esc(c.title) +
       "</text>\n";
  if (!c.subtitle.empty())
    o += "<text x=\"" + mid + "\" y=\"44\" text-anchor=\"middle\" font-size=\"12\" fill=\"#444444\">" +
         esc(c.subtitle) + "</text>\n";
  return o;
}

// Grid lines, the frame, ticks with their labels, and the axis titles.
std::string svg_axes(const Chart& c, const Frame& f) {
  std::string o = "<g stroke=\"#e4e4e4\" stroke-width=\"1\">\n";
  for (double t : f.ax.ticks)
    o += "<line x1=\"" + px(f.XU(t)) + "\" y1=\"" + px(f.top) + "\" x2=\"" + px(f.XU(t)) + "\" y2=\"" + px(f.bottom) + "\"/>\n";
  for (double t : f.ay.ticks)
    o += "<line x1=\"" + px(f.left) + "\" y1=\"" + px(f.Y(t)) + "\" x2=\"" + px(f.right) + "\" y2=\"" + px(f.Y(t)) + "\"/>\n";
  o += "</g>\n";
  o += "<rect x=\"" + px(f.left) + "\" y=\"" + px(f.top) + "\" width=\"" + px(f.right - f.left) + "\" height=\"" +
       px(f.bottom - f.top) + "\" fill=\"none\" stroke=\"#333333\" stroke-width=\"1\"/>\n";
  o += "<g font-size=\"11\" fill=\"#333333\">\n";
  for (size_t i = 0; i < f.ax.ticks.size(); ++i) {
    const double x = f.XU(f.ax.ticks[i]);
    o += "<line x1=\"" + px(x) + "\" y1=\"" + px(f.bottom) + "\" x2=\"" + px(x) + "\" y2=\"" + px(f.bottom + 5) +
         "\" stroke=\"#333333\"/>\n";
    o += "<text x=\"" + px(x) + "\" y=\"" + px(f.bottom + 18) + "\" text-anchor=\"middle\">" + esc(f.ax.labels[i]) + "</text>\n";
  }
  for (size_t i = 0; i < f.ay.ticks.size(); ++i) {
    const double y = f.Y(f.ay.ticks[i]);
    o += "<line x1=\"" + px(f.left - 5) + "\" y1=\"" + px(y) + "\" x2=\"" + px(f.left) + "\" y2=\"" + px(y) +
         "\" stroke=\"#333333\"/>\n";
    o += "<text x=\"" + px(f.left - 8) + "\" y=\"" + px(y + 4) + "\" text-anchor=\"end\">" + esc(f.ay.labels[i]) + "</text>\n";
  }
  o += "</g>\n";
  o += "<text x=\"" + px((f.left + f.right) / 2) + "\" y=\"" + px(f.H - 16) + "\" text-anchor=\"middle\" font-size=\"13\">" +
       esc(c.x_label) + "</text>\n";
  o += "<text x=\"18\" y=\"" + px((f.top + f.bottom) / 2) + "\" text-anchor=\"middle\" font-size=\"13\" transform=\"rotate(-90 18 " +
       px((f.top + f.bottom) / 2) + ")\">" + esc(c.y_label) + "</text>\n";
  if (f.empty)
    o += "<text x=\"" + px((f.left + f.right) / 2) + "\" y=\"" + px((f.top + f.bottom) / 2) +
         "\" text-anchor=\"middle\" font-size=\"14\" fill=\"#888888\">no data</text>\n";
  return o;
}

std::string stroke_style(const Series& s) {
  return "stroke=\"" + s.color + "\" stroke-width=\"" + fmt("%.1f", s.width) + "\"" +
         (s.dashed ? " stroke-dasharray=\"6 4\"" : "");
}

// The series, clipped to the plot area; a point that cannot be drawn starts a new polyline. The markers are
// drawn outside the clip, so that points on the edge of the axes stay whole circles.
std::string svg_series(const Chart& c, const Frame& f) {
  std::string o = "<defs><clipPath id=\"plot-area\"><rect x=\"" + px(f.left) + "\" y=\"" + px(f.top) + "\" width=\"" +
                  px(f.right - f.left) + "\" height=\"" + px(f.bottom - f.top) + "\"/></clipPath></defs>\n";
  o += "<g clip-path=\"url(#plot-area)\" fill=\"none\" stroke-linejoin=\"round\" stroke-linecap=\"round\">\n";
  for (const Series& s : c.series) {
    std::vector<std::string> segments(1);
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!drawable(c, s.x[i], s.y[i])) {
        if (!segments.back().empty()) segments.emplace_back();
        continue;
      }
      segments.back() += (segments.back().empty() ? "" : " ") + px(f.X(s.x[i])) + "," + px(f.Y(s.y[i]));
    }
    for (const std::string& pts : segments)
      if (!pts.empty()) o += "<polyline " + stroke_style(s) + " points=\"" + pts + "\"/>\n";
  }
  o += "</g>\n";
  for (const Series& s : c.series) {
    if (!s.markers) continue;
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
      if (drawable(c, s.x[i], s.y[i]))
        o += "<circle cx=\"" + px(f.X(s.x[i])) + "\" cy=\"" + px(f.Y(s.y[i])) + "\" r=\"3.5\" fill=\"" + s.color + "\"/>\n";
  }
  return o;
}

std::string svg_legend(const Chart& c, const Frame& f) {
  if (c.series.empty()) return "";
  const double lx = f.right + 16, ly = f.top;
  std::string o = "<g font-size=\"11\">\n";
  for (size_t i = 0; i < c.series.size(); ++i) {
    const Series& s = c.series[i];
    const double y = ly + 8 + 17.0 * i;
    o += "<line x1=\"" + px(lx) + "\" y1=\"" + px(y) + "\" x2=\"" + px(lx + 26) + "\" y2=\"" + px(y) + "\" " +
         stroke_style(s) + "/>\n";
    if (s.markers) o += "<circle cx=\"" + px(lx + 13) + "\" cy=\"" + px(y) + "\" r=\"3.5\" fill=\"" + s.color + "\"/>\n";
    o += "<text x=\"" + px(lx + 32) + "\" y=\"" + px(y + 4) + "\">" + esc(s.label) + "</text>\n";
  }
  return o + "</g>\n";
}

}  // namespace

std::string palette(size_t n) {
  static const char* colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return colors[n % 10];
}

std::string render_svg(const Chart& c) {
  const Frame f = frame_of(c);
  return svg_head(c, f) + svg_axes(c, f) + svg_series(c, f) + svg_legend(c, f) + "</svg>\n";
}

}  // namespace parity::plot
