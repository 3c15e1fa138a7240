// Line charts as hand-written SVG (no plotting library on the build machines): axes with "nice" ticks and
// grid lines, a title and subtitle, a legend beside the plot, polylines with optional markers and dashes.
// The output depends only on the input (fixed number formatting), so it can be compared as text.
#pragma once
#include <string>
#include <vector>

namespace parity::plot {

struct Series {
  std::string label;
  std::vector<double> x, y;   // same length; a non-finite y breaks the line
  std::string color = "#1f77b4";
  double width = 1.5;         // stroke width in px
  bool markers = false;       // a circle at every point
  bool dashed = false;
};

struct Chart {
  std::string title, subtitle, x_label, y_label;
  bool log2_x = false;        // x on a log2 axis with ticks at powers of two (x must be > 0)
  bool y_from_zero = false;   // y axis starts at 0 (else at the data's minimum)
  bool integer_x = false;     // x ticks at whole numbers only (steps)
  std::vector<Series> series;
  int width = 900, height = 480;
};

// The n-th colour of a ten-colour qualitative palette (Tableau 10), cycling.
std::string palette(size_t n);

// The whole SVG document.
std::string render_svg(const Chart& c);

}  // namespace parity::plot
