// The build machine's ceilings, one place for every benchmark that reports a fraction of them
// (bench_kernels, bench_gemm, bench_train, bench_memory, bench_comm).
//
// The project's own recorded assumption for the 2-core AMD Zen 5 (AVX-512) build machine, where these
// figures were measured (recorded here 2026-11-29); the constants are fixed, not read from the machine:
//   fp32 FMA peak   ~220 GFLOP/s per core (~440 on 2; AVX2 gives half)
//   memory triad    ~30 GB/s on one core (~60 on 2), STREAM byte counting (1 GB = 1e9 B; a triad
//                   a[i] = b[i] + s*c[i] counts 3 words per element, write-allocate traffic not counted)
// bench_memory measures the memory figure again on the machine at hand (copy, scale, add, triad;
// results/bench-memory.md); no benchmark measures the FLOP peak (the trainer's own figure for MFU is an
// estimate from the CPU's vector width and clock, reference/provenance.hpp).
// Benchmarks that allow it override these with the environment variables PARITY_PEAK_GFLOPS and
// PARITY_PEAK_GBS (e.g. on another machine).
#pragma once

namespace parity::bench {

// fp32 FMA peak of one core, FLOP/s.
constexpr double kFp32PeakFlopsPerCore = 220e9;
// STREAM triad bandwidth of one core, B/s.
constexpr double kTriadBytesPerCore = 30e9;
// Bytes one core can copy from memory to memory per second: a copied byte is read once and written once,
// two bytes of STREAM traffic. The bound on a rank's bus bandwidth through shared memory (every byte a
// rank receives is copied at least once, by a core that moves data at most this fast); bench_comm reports
// of_ceiling against it. Caches can beat it for messages that fit in them.
constexpr double kCopyBytesPerCore = kTriadBytesPerCore / 2;

}  // namespace parity::bench
