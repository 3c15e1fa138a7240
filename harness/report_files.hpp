// Writing the report's files: whole or not at all (a temporary name renamed onto the target), and SVG to PNG
// with the first converter on PATH that works.
#pragma once
#include <string>

namespace parity::report {

// Writes `text` to `path` through "<path>.tmp.<pid>"; parity::Error naming the file on failure.
void write_text(const std::string& path, const std::string& text);

// rsvg-convert, else ImageMagick's convert; parity::Error naming both (and what they said) when neither works.
void to_png(const std::string& svg, const std::string& png);

}  // namespace parity::report
