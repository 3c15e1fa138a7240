// Compute precisions (docs/numerics.md, "Precisions"). The trainer keeps fp32 master weights and moments; in
// bf16 and fp16 runs the compute copy of the weights, the activations and the GEMM inputs are 16-bit
// values. On the CPU they are held in float buffers whose values are rounded to the 16-bit format at the
// points where a 16-bit model would store them (the conversion back to float is exact, so this is the same
// arithmetic as 16-bit storage); GEMMs accumulate the 16-bit products in fp32, in the canonical order.
#pragma once
#include <string>

namespace parity {

enum class Precision { fp32, bf16, fp16 };

Precision parse_precision(const std::string& s);  // "fp32" | "bf16" | "fp16"; throws parity::Error otherwise
const char* to_string(Precision p);

// Unit roundoff of the storage format: 2^-24 (fp32), 2^-8 (bf16), 2^-11 (fp16).
double unit_roundoff(Precision p);

// x[i] = the value of x[i] rounded to the precision's format (round to nearest even; NaN stays NaN, overflow
// goes to inf, subnormals as IEEE 754 says). No-op for fp32.
void round_to(Precision p, float* x, long n);

}  // namespace parity
