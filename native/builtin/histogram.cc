// Histogram collection (see histogram.h for the layout and the deviations from pytorch-quantization).
//
// Serialized histogram, format version 1, all integers and floats little-endian, IEEE-754:
//   offset  size      field
//   0       8         magic "TRTCHIST"
//   8       4         u32 format version (1)
//   12      4         u32 reserved, 0
//   16      8         f64 bin width (0: undefined, then nbins is 0)
//   24      8         u64 nbins (<= kHISTOGRAM_MAX_BINS)
//   32      8         u64 count (every value, NaN/Inf included)
//   40      8         u64 NaN count
//   48      8         u64 +Inf count
//   56      8         u64 -Inf count
//   64      8         u64 pending zeros (nonzero only while the width is undefined)
//   72      4         f32 min over finite values (+inf when none)
//   76      4         f32 max over finite values (-inf when none)
//   80      8*nbins   u64 counts
// Invariant checked on load: sum(counts) + pending zeros == count - NaN - (+Inf) - (-Inf).
//
// Serialized HistogramSet, format version 1:
//   0 8 magic "TRTCHSET" | 8 4 u32 version (1) | 12 4 u32 tensor count | then per tensor, in set order:
//   u32 name length, name bytes (UTF-8, no terminator), u64 histogram length, the histogram bytes as above.
#include "builtin/histogram.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "builtin/simd.h"

namespace trtc {
namespace {

constexpr char kHIST_MAGIC[8] = {'T', 'R', 'T', 'C', 'H', 'I', 'S', 'T'};
constexpr char kSET_MAGIC[8] = {'T', 'R', 'T', 'C', 'H', 'S', 'E', 'T'};
constexpr std::uint32_t kFORMAT_VERSION = 1;
constexpr std::size_t kHEADER_BYTES = 80;
// Values per block of the vectorized passes (the per-lane 32-bit counters never overflow).
constexpr std::size_t kBLOCK = std::size_t{1} << 28;

void putU32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void putU64(std::vector<std::uint8_t>& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void putF64(std::vector<std::uint8_t>& out, double v) {
  std::uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  putU64(out, bits);
}
void putF32(std::vector<std::uint8_t>& out, float v) {
  std::uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  putU32(out, bits);
}

class Reader {
 public:
  Reader(std::uint8_t const* data, std::size_t size, std::size_t offset)
      : mData(data), mSize(size), mPos(offset) {}
  void need(std::size_t n, char const* what) const {
    if (mPos > mSize || mSize - mPos < n) {
      throw HistogramError(std::string("truncated histogram data (reading ") + what + ")");
    }
  }
  std::uint32_t u32(char const* what) {
    need(4, what);
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(mData[mPos + i]) << (8 * i);
    mPos += 4;
    return v;
  }
  std::uint64_t u64(char const* what) {
    need(8, what);
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(mData[mPos + i]) << (8 * i);
    mPos += 8;
    return v;
  }
  double f64(char const* what) {
    std::uint64_t bits = u64(what);
    double v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
  }
  float f32(char const* what) {
    std::uint32_t bits = u32(what);
    float v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
  }
  void magic(char const (&expected)[8], char const* what) {
    need(8, what);
    if (std::memcmp(mData + mPos, expected, 8) != 0) {
      throw HistogramError(std::string("not ") + what + " data (bad magic)");
    }
    mPos += 8;
  }
  std::uint8_t const* take(std::size_t n, char const* what) {
    need(n, what);
    std::uint8_t const* p = mData + mPos;
    mPos += n;
    return p;
  }
  std::size_t pos() const { return mPos; }

 private:
  std::uint8_t const* mData;
  std::size_t mSize;
  std::size_t mPos;
};

#if TRTC_HAVE_VECTORS
// The counting loop's types (SSE2 on x86-64, NEON on aarch64 (Jetson)).
using F4 = float __attribute__((vector_size(16)));
using I4 = std::int32_t __attribute__((vector_size(16)));
using U2 = std::uint64_t __attribute__((vector_size(16)));  // the same 16 bytes as two 64-bit halves
#endif

// Min/max/NaN of data[0, n): the first pass of an add. AVX2 where the CPU has it (simd.h; alone on one
// detector image's activations 13.3 -> 7.8 ms, though whole adds did not measurably change).
TRTC_AVX2_CLONES MinMaxNan scanMinMaxNan(float const* data, std::size_t n) {
  MinMaxNan r;
  std::size_t i = 0;
#if TRTC_HAVE_VECTORS
  // Two independent accumulators hide the compare/select latency; per-lane NaN counters are folded every
  // kBLOCK values so they never overflow.
  while (n - i >= 16) {
    std::size_t const end = i + std::min<std::size_t>(kBLOCK, (n - i) / 16 * 16);
    MinMaxNan8 a;
    MinMaxNan8 b;
    F8 va{};
    F8 vb{};
    for (; i < end; i += 16) {
      load8(va, data + i);
      load8(vb, data + i + 8);
      accumulate8(a, va);
      accumulate8(b, vb);
    }
    reduce8(a, r);
    reduce8(b, r);
  }
#endif
  for (; i < n; ++i) accumulate1(r, data[i]);
  return r;
}

// Lane-counter scratch of this thread, at least `k` buffers (reused across calls: Histogram::add takes the
// first, HistogramSet::addChunked one per tensor; the two never nest).
std::vector<std::vector<std::uint32_t>>& laneScratch(std::size_t k) {
  thread_local std::vector<std::vector<std::uint32_t>> buffers;
  if (buffers.size() < k) buffers.resize(k);
  return buffers;
}

// Sub-histograms per lane: values crowd the first bins (a ReLU's zeros all go to bin 0), so with one counter
// array every increment would wait for the previous store to the same counter; lane k counts values i with
// i % kLANES == k (in the vector loop) into its own array.
constexpr std::size_t kLANES = 8;

// Counts data[0, n) into the lane arrays h[0..kLANES) at bin min(|v| * inv, last) (the float path of binOf).
// Every value must be finite and every bin must exist in the lane arrays.
void countLanes(float const* data, std::size_t n, float inv, std::uint32_t last, std::uint32_t* const* h) {
  float const lastF = static_cast<float>(last);
  std::size_t i = 0;
#if TRTC_HAVE_VECTORS
  F4 const vinv = {inv, inv, inv, inv};
  F4 const vlast = {lastF, lastF, lastF, lastF};
  I4 const absMask = {0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff};
  for (; i + 8 <= n; i += 8) {
    I4 bitsA;
    I4 bitsB;
    std::memcpy(&bitsA, data + i, sizeof bitsA);
    std::memcpy(&bitsB, data + i + 4, sizeof bitsB);
    bitsA &= absMask;
    bitsB &= absMask;
    F4 a;
    F4 b;
    std::memcpy(&a, &bitsA, sizeof a);
    std::memcpy(&b, &bitsB, sizeof b);
    F4 xa = a * vinv;
    F4 xb = b * vinv;
    xa = xa < vlast ? xa : vlast;
    xb = xb < vlast ? xb : vlast;
    // Two bin indices per 64-bit move: fewer extract instructions than one per lane (the loop is bound by
    // instruction count; about 15 % faster on real activations).
    U2 const ia = reinterpret_cast<U2>(__builtin_convertvector(xa, I4));
    U2 const ib = reinterpret_cast<U2>(__builtin_convertvector(xb, I4));
    std::uint64_t const a0 = ia[0];
    std::uint64_t const a1 = ia[1];
    std::uint64_t const b0 = ib[0];
    std::uint64_t const b1 = ib[1];
    ++h[0][static_cast<std::uint32_t>(a0)];
    ++h[1][a0 >> 32];
    ++h[2][static_cast<std::uint32_t>(a1)];
    ++h[3][a1 >> 32];
    ++h[4][static_cast<std::uint32_t>(b0)];
    ++h[5][b0 >> 32];
    ++h[6][static_cast<std::uint32_t>(b1)];
    ++h[7][b1 >> 32];
  }
#endif
  for (; i < n; ++i) {
    float const x = std::fabs(data[i]) * inv;
    ++h[i % kLANES][x >= lastF ? last : static_cast<std::uint32_t>(x)];
  }
}

}  // namespace

Histogram::Histogram(double binWidth, std::size_t bins) {
  if (!(std::isfinite(binWidth) && binWidth > 0.0)) {
    throw HistogramError("bin width must be finite and greater than 0");
  }
  if (bins < 1 || bins > kHISTOGRAM_MAX_BINS) {
    throw HistogramError("bin count must be in [1, " + std::to_string(kHISTOGRAM_MAX_BINS) + "]");
  }
  defineWidth(binWidth);
  mCounts.assign(bins, 0);
}

std::uint64_t Histogram::binnedCount() const noexcept {
  std::uint64_t total = 0;
  for (std::uint64_t c : mCounts) total += c;
  return total;
}

float Histogram::absMax() const noexcept {
  if (!(mMin <= mMax)) return 0.0F;
  return std::max(std::fabs(mMin), std::fabs(mMax));
}

void Histogram::defineWidth(double width) {
  mBinWidth = width;
  mInvWidth = static_cast<float>(1.0 / width);
  mCounts.assign(kHISTOGRAM_BINS, 0);
  mCounts[0] += mPendingZeros;
  mPendingZeros = 0;
}

void Histogram::coarsen(unsigned shift) {
  if (shift == 0) return;
  std::size_t const group = std::size_t{1} << shift;
  std::size_t const n = (mCounts.size() + group - 1) / group;
  std::vector<std::uint64_t> next(n, 0);
  for (std::size_t i = 0; i < mCounts.size(); ++i) next[i >> shift] += mCounts[i];
  mCounts.swap(next);
  mBinWidth = std::ldexp(mBinWidth, static_cast<int>(shift));
  mInvWidth = static_cast<float>(1.0 / mBinWidth);
}

void Histogram::ensureBins(double absMax) {
  double needed = std::ceil(absMax / mBinWidth);
  if (needed <= static_cast<double>(mCounts.size())) return;
  std::size_t const spillIndex = mCounts.size();
  unsigned shift = 0;
  while (std::ldexp(needed, -static_cast<int>(shift)) > static_cast<double>(kHISTOGRAM_MAX_BINS)) ++shift;
  coarsen(shift);
  // Recompute with the final width: ceil(x / 2^k w) may be one less than ceil(ceil(x / w) / 2^k).
  std::size_t bins = static_cast<std::size_t>(std::ceil(absMax / mBinWidth));
  bins = std::min(std::max(bins, mCounts.size()), kHISTOGRAM_MAX_BINS);
  mCounts.resize(bins, 0);
  // The open batch's spilled values had floor(v / w) == spillIndex, so floor(v / (2^shift w)) ==
  // spillIndex >> shift: a regular bin now that there are more bins (or the new spill index, kept as spill).
  if (mSpill != 0) {
    std::size_t const at = spillIndex >> shift;
    if (at < mCounts.size()) {
      mCounts[at] += mSpill;
      mSpill = 0;
    }
  }
}

void Histogram::commitSpill() noexcept {
  if (mSpill != 0 && !mCounts.empty()) mCounts.back() += mSpill;
  mSpill = 0;
}

void HistogramScan::merge(HistogramScan const& other) {
  count += other.count;
  nan += other.nan;
  posInf += other.posInf;
  negInf += other.negInf;
  min = std::min(min, other.min);
  max = std::max(max, other.max);
}

float HistogramScan::absMax() const noexcept {
  if (!(min <= max)) return 0.0F;
  return std::max(std::fabs(min), std::fabs(max));
}

void HistogramScan::add(float const* data, std::size_t n) {
  if (n == 0) return;
  MinMaxNan const first = scanMinMaxNan(data, n);
  addSummary(data, n, first.min, first.max, first.nan);
}

void HistogramScan::addSummary(float const* data, std::size_t n, float chunkMin, float chunkMax,
                               std::uint64_t chunkNan) {
  if (n == 0) return;
  MinMaxNan const first{chunkMin, chunkMax, chunkNan};
  count += n;
  nan += first.nan;
  if (std::isinf(first.min) || std::isinf(first.max)) {
    // Rare (an infinity, or no finite value): recount exactly, excluding the infinities from min/max.
    for (std::size_t i = 0; i < n; ++i) {
      float const v = data[i];
      if (std::isinf(v)) {
        (v > 0 ? posInf : negInf) += 1;
      } else if (v == v) {
        min = std::min(min, v);
        max = std::max(max, v);
      }
    }
  } else {
    min = std::min(min, first.min);
    max = std::max(max, first.max);
  }
}

Histogram::Binner Histogram::beginAdd(HistogramScan const& scan, std::vector<std::uint32_t>& lanes) {
  Binner b;
  if (scan.count == 0 || mBatch == BatchState::kDONE) return b;
  if (mBatch == BatchState::kSCAN) {
    mBatchScan.merge(scan);
    return b;
  }
  std::uint64_t const nonFinite = scan.nan + scan.posInf + scan.negInf;
  std::uint64_t const finite = scan.count - nonFinite;
  mCount += scan.count;
  mNanCount += scan.nan;
  mPosInfCount += scan.posInf;
  mNegInfCount += scan.negInf;
  if (finite == 0) return b;
  mMin = std::min(mMin, scan.min);
  mMax = std::max(mMax, scan.max);
  float const batchAbsMax = std::max(std::fabs(scan.min), std::fabs(scan.max));
  if (batchAbsMax == 0.0F) {
    // Only zeros (and maybe NaN/Inf): they belong in bin 0 whatever the width turns out to be.
    if (mBinWidth > 0.0) {
      mCounts[0] += finite;
    } else {
      mPendingZeros += finite;
    }
    return b;
  }
  if (mBinWidth == 0.0) defineWidth(static_cast<double>(batchAbsMax) / static_cast<double>(kHISTOGRAM_BINS));
  ensureBins(batchAbsMax);

  b.mHistogram = this;
  b.mCheckFinite = nonFinite != 0;
  b.mSpillIndex = static_cast<std::uint32_t>(mCounts.size());
  b.mInv = mInvWidth;
  b.mInvD = 1.0 / mBinWidth;
  // The float path needs a finite reciprocal whose products stay far inside int32; extreme widths (denormal
  // max|x|) take the double path.
  b.mFloatPath = std::isfinite(b.mInv) && b.mInv < 1e30F;
  // No value lands above the bin of the largest |x| (binning is monotonic): the lane counters below need only
  // the bins up to it (the spill index at most), which for most batches is far fewer than the histogram
  // holds.
  b.mUsed = std::min<std::size_t>(mCounts.size() + 1, std::size_t{b.binOf(batchAbsMax)} + 1);
  if (!b.mCheckFinite && b.mFloatPath && scan.count >= 4 * b.mUsed) {
    lanes.assign(kLANES * b.mUsed, 0);
    b.mLanes = &lanes;
  }
  return b;
}

// The batch's values are at most its max|x| m, with nbins >= ceil(m / w) (ensureBins); floor(v * (1/w)) in
// float is then at most nbins (its relative error, about 2^-23, stays far below 1 / kHISTOGRAM_MAX_BINS), so
// the clamp at the spill index only bounds the index: it never moves a value.
std::uint32_t Histogram::Binner::binOf(float v) const noexcept {
  float const a = std::fabs(v);
  if (mFloatPath) {
    float const x = a * mInv;
    return x >= static_cast<float>(mSpillIndex) ? mSpillIndex : static_cast<std::uint32_t>(x);
  }
  double const x = static_cast<double>(a) * mInvD;
  return x >= static_cast<double>(mSpillIndex) ? mSpillIndex : static_cast<std::uint32_t>(x);
}

void Histogram::Binner::add(float const* data, std::size_t n) {
  if (mHistogram == nullptr) return;
  if (mLanes == nullptr) {
    std::uint64_t* counts = mHistogram->mCounts.data();
    for (std::size_t i = 0; i < n; ++i) {
      float const v = data[i];
      if (mCheckFinite && !std::isfinite(v)) continue;
      std::uint32_t const bin = binOf(v);
      if (bin < mSpillIndex) {
        ++counts[bin];
      } else {
        ++mHistogram->mSpill;
      }
    }
    return;
  }
  std::uint32_t* h[kLANES];
  for (std::size_t k = 0; k < kLANES; ++k) h[k] = mLanes->data() + k * mUsed;
  // The 32-bit lane counters are folded into the bins every kBLOCK values, so they never overflow.
  while (n > 0) {
    std::size_t const take = std::min(n, kBLOCK - mPending);
    countLanes(data, take, mInv, mSpillIndex, h);
    data += take;
    n -= take;
    mPending += take;
    if (mPending == kBLOCK) fold(true);
  }
}

void Histogram::Binner::fold(bool clear) {
  std::uint32_t* lanes = mLanes->data();
  std::uint64_t* counts = mHistogram->mCounts.data();
  for (std::size_t bin = 0; bin < mUsed; ++bin) {
    std::uint64_t total = 0;
    for (std::size_t k = 0; k < kLANES; ++k) total += lanes[k * mUsed + bin];
    if (bin < mSpillIndex) {
      counts[bin] += total;
    } else {
      mHistogram->mSpill += total;
    }
  }
  if (clear) std::fill(mLanes->begin(), mLanes->end(), 0U);
  mPending = 0;
}

void Histogram::Binner::finish() {
  if (mHistogram == nullptr) return;
  if (mLanes != nullptr && mPending > 0) fold(false);
  // A whole batch ends here; a part's spill waits for the rest of its batch.
  if (mHistogram->mBatch == BatchState::kNONE) mHistogram->commitSpill();
  mHistogram = nullptr;
}

void Histogram::add(float const* data, std::size_t n) {
  if (n == 0 || mBatch == BatchState::kDONE) return;
  HistogramScan scan;
  scan.add(data, n);
  Binner binner = beginAdd(scan, laneScratch(1)[0]);
  binner.add(data, n);
  binner.finish();
}

void Histogram::openBatch() {
  if (mBatch != BatchState::kNONE) throw std::logic_error("Histogram::openBatch: a batch is open already");
  mBatch = mBinWidth > 0.0 ? BatchState::kPARTS : BatchState::kSCAN;
  mBatchScan = HistogramScan();
}

bool Histogram::closePass() {
  switch (mBatch) {
    case BatchState::kSCAN: {
      HistogramScan const scan = mBatchScan;
      mBatchScan = HistogramScan();
      float const absMax = scan.absMax();
      if (absMax > 0.0F) {
        // The width the whole batch would define; its parts come again to be binned at it.
        defineWidth(static_cast<double>(absMax) / static_cast<double>(kHISTOGRAM_BINS));
        mBatch = BatchState::kREBIN;
        return true;
      }
      // Nothing to bin (only zeros, NaN, Inf): the counts are all there is, as one add() would record them.
      mBatch = BatchState::kNONE;
      std::vector<std::uint32_t> unused;
      beginAdd(scan, unused);  // no binner: nothing has a bin
      mBatch = BatchState::kDONE;
      return false;
    }
    case BatchState::kPARTS:
    case BatchState::kREBIN:
      commitSpill();
      mBatch = BatchState::kDONE;
      return false;
    case BatchState::kNONE:
    case BatchState::kDONE:
      return false;
  }
  return false;
}

void Histogram::closeBatch() {
  commitSpill();
  mBatch = BatchState::kNONE;
  mBatchScan = HistogramScan();
}

void Histogram::abandonBatch() { closeBatch(); }

void Histogram::merge(Histogram const& other) {
  if (inBatch() || other.inBatch()) {
    throw HistogramError("cannot merge a histogram while a batch is given to it in parts");
  }
  Histogram result = *this;
  Histogram src = other;
  if (result.mBinWidth > 0.0 && src.mBinWidth > 0.0 && result.mBinWidth != src.mBinWidth) {
    double const ratio = result.mBinWidth > src.mBinWidth ? result.mBinWidth / src.mBinWidth
                                                          : src.mBinWidth / result.mBinWidth;
    int exponent = 0;
    double const mantissa = std::frexp(ratio, &exponent);
    if (mantissa != 0.5 || exponent < 2 || exponent > 64) {
      throw HistogramError("cannot merge histograms of different bin widths (" + std::to_string(mBinWidth) +
                           " and " + std::to_string(other.mBinWidth) +
                           "); give every shard the same width (HistogramSet.setBinWidth)");
    }
    Histogram& finer = result.mBinWidth < src.mBinWidth ? result : src;
    finer.coarsen(static_cast<unsigned>(exponent - 1));
  }
  if (result.mBinWidth == 0.0 && src.mBinWidth > 0.0) {
    std::uint64_t const pending = result.mPendingZeros;
    result.mPendingZeros = 0;
    result.mBinWidth = src.mBinWidth;
    result.mInvWidth = src.mInvWidth;
    result.mCounts.assign(src.mCounts.size(), 0);
    result.mCounts[0] += pending;
  }
  if (result.mBinWidth > 0.0) {
    if (result.mCounts.size() < src.mCounts.size()) result.mCounts.resize(src.mCounts.size(), 0);
    for (std::size_t i = 0; i < src.mCounts.size(); ++i) result.mCounts[i] += src.mCounts[i];
    result.mCounts[0] += src.mPendingZeros;
  } else {
    result.mPendingZeros += src.mPendingZeros;
  }
  result.mCount += src.mCount;
  result.mNanCount += src.mNanCount;
  result.mPosInfCount += src.mPosInfCount;
  result.mNegInfCount += src.mNegInfCount;
  result.mMin = std::min(result.mMin, src.mMin);
  result.mMax = std::max(result.mMax, src.mMax);
  *this = std::move(result);
}

void Histogram::serializeTo(std::vector<std::uint8_t>& out) const {
  if (inBatch()) throw HistogramError("cannot serialize a histogram while a batch is given to it in parts");
  out.reserve(out.size() + kHEADER_BYTES + 8 * mCounts.size());
  out.insert(out.end(), kHIST_MAGIC, kHIST_MAGIC + 8);
  putU32(out, kFORMAT_VERSION);
  putU32(out, 0);
  putF64(out, mBinWidth);
  putU64(out, mCounts.size());
  putU64(out, mCount);
  putU64(out, mNanCount);
  putU64(out, mPosInfCount);
  putU64(out, mNegInfCount);
  putU64(out, mPendingZeros);
  putF32(out, mMin);
  putF32(out, mMax);
  for (std::uint64_t c : mCounts) putU64(out, c);
}

std::vector<std::uint8_t> Histogram::serialize() const {
  std::vector<std::uint8_t> out;
  serializeTo(out);
  return out;
}

Histogram Histogram::deserializeFrom(std::uint8_t const* data, std::size_t size, std::size_t& offset) {
  Reader r(data, size, offset);
  r.magic(kHIST_MAGIC, "histogram");
  std::uint32_t const version = r.u32("version");
  if (version != kFORMAT_VERSION) {
    throw HistogramError("histogram format version " + std::to_string(version) +
                         " is not supported (expected " + std::to_string(kFORMAT_VERSION) + ")");
  }
  r.u32("reserved");
  Histogram h;
  double const width = r.f64("bin width");
  std::uint64_t const nbins = r.u64("bin count");
  h.mCount = r.u64("count");
  h.mNanCount = r.u64("NaN count");
  h.mPosInfCount = r.u64("+Inf count");
  h.mNegInfCount = r.u64("-Inf count");
  h.mPendingZeros = r.u64("pending zeros");
  h.mMin = r.f32("min");
  h.mMax = r.f32("max");
  if (!(std::isfinite(width) && width >= 0.0)) throw HistogramError("invalid bin width in histogram data");
  if ((width == 0.0) != (nbins == 0) || nbins > kHISTOGRAM_MAX_BINS || (nbins != 0 && nbins < 128)) {
    throw HistogramError("invalid bin count " + std::to_string(nbins) + " in histogram data");
  }
  if (width > 0.0 && h.mPendingZeros != 0) throw HistogramError("pending zeros with a defined width");
  std::uint64_t const nonFinite = h.mNanCount + h.mPosInfCount + h.mNegInfCount;
  if (nonFinite > h.mCount || nonFinite < h.mNanCount)
    throw HistogramError("inconsistent counts in histogram data");
  r.need(8 * nbins, "counts");
  h.mCounts.resize(nbins);
  std::uint64_t binned = h.mPendingZeros;
  for (std::uint64_t i = 0; i < nbins; ++i) {
    h.mCounts[i] = r.u64("counts");
    binned += h.mCounts[i];
  }
  std::uint64_t const finite = h.mCount - nonFinite;
  if (binned != finite) throw HistogramError("bin counts do not add up to the finite value count");
  bool const minMaxOk = finite == 0 ? (std::isinf(h.mMin) && std::isinf(h.mMax))
                                    : (std::isfinite(h.mMin) && std::isfinite(h.mMax) && h.mMin <= h.mMax);
  if (!minMaxOk) throw HistogramError("invalid min/max in histogram data");
  if (width > 0.0) {
    h.mBinWidth = width;
    h.mInvWidth = static_cast<float>(1.0 / width);
  }
  offset = r.pos();
  return h;
}

Histogram Histogram::deserialize(std::uint8_t const* data, std::size_t size) {
  std::size_t offset = 0;
  Histogram h = deserializeFrom(data, size, offset);
  if (offset != size) throw HistogramError("trailing bytes after histogram data");
  return h;
}

// ---- HistogramSet ----

HistogramSet::Entry& HistogramSet::entry(std::string const& name) {
  std::lock_guard<std::mutex> lock(mMutex);
  auto it = mEntries.find(name);
  if (it != mEntries.end()) return *it->second;
  auto created = std::make_unique<Entry>();
  Entry& ref = *created;
  mEntries.emplace(name, std::move(created));
  mOrder.push_back(name);
  return ref;
}

HistogramSet::Entry const* HistogramSet::find(std::string const& name) const {
  std::lock_guard<std::mutex> lock(mMutex);
  auto it = mEntries.find(name);
  return it == mEntries.end() ? nullptr : it->second.get();
}

void HistogramSet::add(std::string const& name, float const* data, std::size_t n) {
  Entry& e = entry(name);  // entries are never removed, so the reference stays valid
  std::lock_guard<std::mutex> lock(e.mutex);
  e.histogram.add(data, n);
}

void HistogramSet::addChunked(std::vector<std::string> const& names, std::size_t n, std::size_t chunk,
                              ChunkProducer const& produce) {
  std::size_t const k = names.size();
  if (k == 0) return;
  if (chunk == 0) throw std::invalid_argument("addChunked: chunk must be at least 1");
  std::vector<Entry*> entries;
  entries.reserve(k);
  for (std::string const& name : names) entries.push_back(&entry(name));
  // Locks in address order, so two calls over overlapping tensors cannot deadlock.
  std::vector<Entry*> order = entries;
  std::sort(order.begin(), order.end());
  if (std::adjacent_find(order.begin(), order.end()) != order.end()) {
    throw std::invalid_argument("addChunked: a tensor is named twice");
  }
  std::vector<std::unique_lock<std::mutex>> locks;
  locks.reserve(k);
  for (Entry* e : order) locks.emplace_back(e->mutex);
  // In the second pass over a batch's parts, most tensors have their batch already: produce nothing for them.
  if (std::all_of(entries.begin(), entries.end(), [](Entry* e) { return e->histogram.ignoresParts(); }))
    return;

  std::vector<float const*> out(k, nullptr);
  std::vector<HistogramScan> scans(k);
  for (std::size_t offset = 0; offset < n; offset += chunk) {
    std::size_t const count = std::min(chunk, n - offset);
    produce(offset, count, out.data(), scans.data());
  }
  std::vector<std::vector<std::uint32_t>>& lanes = laneScratch(k);
  std::vector<Histogram::Binner> binners;
  binners.reserve(k);
  bool any = false;
  for (std::size_t t = 0; t < k; ++t) {
    binners.push_back(entries[t]->histogram.beginAdd(scans[t], lanes[t]));
    any = any || binners.back().active();
  }
  if (any) {
    for (std::size_t offset = 0; offset < n; offset += chunk) {
      std::size_t const count = std::min(chunk, n - offset);
      produce(offset, count, out.data(), nullptr);
      for (std::size_t t = 0; t < k; ++t) binners[t].add(out[t], count);
    }
  }
  for (Histogram::Binner& b : binners) b.finish();
}

void HistogramSet::setBinWidth(std::string const& name, double binWidth, std::size_t bins) {
  Histogram fixed(binWidth, bins);
  {
    std::lock_guard<std::mutex> lock(mMutex);
    if (mBatchOpen) throw HistogramError("cannot fix the width of \"" + name + "\" while a batch is open");
  }
  Entry& e = entry(name);
  std::lock_guard<std::mutex> lock(e.mutex);
  if (e.histogram.count() != 0 || e.histogram.binWidth() != 0.0) {
    throw HistogramError("histogram of \"" + name + "\" already has data or a width");
  }
  e.histogram = std::move(fixed);
}

bool HistogramSet::beginBatch(std::vector<std::string> const& names) {
  std::vector<Entry*> entries;
  entries.reserve(names.size());
  for (std::string const& name : names) entries.push_back(&entry(name));
  std::lock_guard<std::mutex> lock(mMutex);
  if (mBatchOpen) throw std::logic_error("HistogramSet::beginBatch: a batch is open already");
  bool widthless = false;
  for (Entry* e : entries) {
    std::lock_guard<std::mutex> entryLock(e->mutex);
    if (e->histogram.inBatch()) continue;  // a name given twice
    e->histogram.openBatch();
    widthless = widthless || e->histogram.binWidth() == 0.0;
  }
  mBatch = std::move(entries);
  mBatchOpen = true;
  return widthless;
}

bool HistogramSet::endPass() {
  std::lock_guard<std::mutex> lock(mMutex);
  if (!mBatchOpen) return false;
  bool again = false;
  for (Entry* e : mBatch) {
    std::lock_guard<std::mutex> entryLock(e->mutex);
    again = e->histogram.closePass() || again;
  }
  if (again) return true;
  for (Entry* e : mBatch) {
    std::lock_guard<std::mutex> entryLock(e->mutex);
    e->histogram.closeBatch();
  }
  mBatch.clear();
  mBatchOpen = false;
  return false;
}

void HistogramSet::abandonBatch() {
  std::lock_guard<std::mutex> lock(mMutex);
  for (Entry* e : mBatch) {
    std::lock_guard<std::mutex> entryLock(e->mutex);
    e->histogram.abandonBatch();
  }
  mBatch.clear();
  mBatchOpen = false;
}

bool HistogramSet::has(std::string const& name) const { return find(name) != nullptr; }

std::vector<std::string> HistogramSet::names() const {
  std::lock_guard<std::mutex> lock(mMutex);
  return mOrder;
}

std::size_t HistogramSet::size() const {
  std::lock_guard<std::mutex> lock(mMutex);
  return mOrder.size();
}

Histogram HistogramSet::get(std::string const& name) const {
  Entry const* e = find(name);
  if (e == nullptr) throw std::out_of_range("no histogram named \"" + name + "\"");
  std::lock_guard<std::mutex> lock(e->mutex);
  return e->histogram;
}

void HistogramSet::merge(HistogramSet const& other) {
  for (HistogramSet const* s : {static_cast<HistogramSet const*>(this), &other}) {
    std::lock_guard<std::mutex> lock(s->mMutex);
    if (s->mBatchOpen) throw HistogramError("cannot merge histogram sets while a batch is open");
  }
  // Snapshot the other set first (it may be this set, or be filled concurrently), then merge into copies so a
  // failure leaves this set unchanged.
  std::vector<std::pair<std::string, Histogram>> incoming;
  for (std::string const& name : other.names()) incoming.emplace_back(name, other.get(name));
  std::vector<std::pair<std::string, Histogram>> merged;
  merged.reserve(incoming.size());
  for (auto& [name, histogram] : incoming) {
    Histogram target = has(name) ? get(name) : Histogram();
    try {
      target.merge(histogram);
    } catch (HistogramError const& e) {
      throw HistogramError("tensor \"" + name + "\": " + e.what());
    }
    merged.emplace_back(name, std::move(target));
  }
  for (auto& [name, histogram] : merged) {
    Entry& e = entry(name);
    std::lock_guard<std::mutex> lock(e.mutex);
    e.histogram = std::move(histogram);
  }
}

std::vector<std::uint8_t> HistogramSet::serialize() const {
  std::vector<std::uint8_t> out(kSET_MAGIC, kSET_MAGIC + 8);
  std::vector<std::string> const order = names();
  putU32(out, kFORMAT_VERSION);
  putU32(out, static_cast<std::uint32_t>(order.size()));
  std::vector<std::uint8_t> one;
  for (std::string const& name : order) {
    putU32(out, static_cast<std::uint32_t>(name.size()));
    out.insert(out.end(), name.begin(), name.end());
    one.clear();
    get(name).serializeTo(one);
    putU64(out, one.size());
    out.insert(out.end(), one.begin(), one.end());
  }
  return out;
}

std::unique_ptr<HistogramSet> HistogramSet::deserialize(std::uint8_t const* data, std::size_t size) {
  Reader r(data, size, 0);
  r.magic(kSET_MAGIC, "histogram set");
  std::uint32_t const version = r.u32("version");
  if (version != kFORMAT_VERSION) {
    throw HistogramError("histogram set format version " + std::to_string(version) +
                         " is not supported (expected " + std::to_string(kFORMAT_VERSION) + ")");
  }
  std::uint32_t const count = r.u32("tensor count");
  auto set = std::make_unique<HistogramSet>();
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint32_t const nameLength = r.u32("name length");
    std::uint8_t const* nameBytes = r.take(nameLength, "name");
    std::string name(reinterpret_cast<char const*>(nameBytes), nameLength);
    std::uint64_t const length = r.u64("histogram length");
    std::uint8_t const* bytes = r.take(static_cast<std::size_t>(length), "histogram");
    if (set->has(name)) throw HistogramError("duplicate tensor name \"" + name + "\" in histogram set data");
    Histogram h;
    try {
      h = Histogram::deserialize(bytes, static_cast<std::size_t>(length));
    } catch (HistogramError const& e) {
      throw HistogramError("tensor \"" + name + "\": " + e.what());
    }
    Entry& e = set->entry(name);
    e.histogram = std::move(h);
  }
  if (r.pos() != size) throw HistogramError("trailing bytes after histogram set data");
  return set;
}

}  // namespace trtc
