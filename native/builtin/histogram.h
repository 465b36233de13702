// Per-tensor histograms of |x| for INT8 calibration (pure C++17: no Node-API, linked into the core tests
// too).
//
// Layout (TensorRT's entropy calibration as NVIDIA's pytorch-quantization HistogramCalibrator computes it,
// README "Calibration algorithms"): bins of one fixed width w over [0, nbins * w). The first batch with a
// nonzero max|x| defines w = max|x| / 2048 (kHISTOGRAM_BINS bins); a later batch with a larger max|x| appends
// bins of the SAME width (old counts are never re-binned). Bin of a value v: min(floor(v * (1/w)), nbins -
// 1), computed in float32 with the reciprocal rounded once, where nbins is the count after the value's whole
// batch (so the value equal to the batch's max lands in the last bin).
//
// Batches in parts: a batch run as several sub-batches (to bound the activations held at once) gives the
// histogram one add() of the whole batch would (beginBatch/endPass below, the builtin builder's native pass
// and ONNX Runtime worker). Two things make that exact:
//  - A histogram without a width at the batch's start only scans the parts (HistogramScan); the width comes
//    from the max over all of them, and the parts are binned in a second pass (endPass asks for it).
//  - A part is binned with the bins its own max needs; a value past the last of them (floor(v/w) == nbins:
//    only values at the part's max, whose max sits on or within float rounding below a bin edge) waits in a
//    spill count at index nbins. If a later part of the same batch adds bins, the spill becomes bin nbins;
//    at the batch's end what is left goes to the last bin. So no value's bin depends on how its batch was
//    cut.
//
// Deviations, all deliberate and documented in README "Calibration algorithms":
//  - All-zero data before the first nonzero value: the width is undefined, the zeros are kept in a pending
//    count and moved into bin 0 once a nonzero max defines the width (they could only ever fall into bin 0).
//  - Growth cap: a histogram never holds more than kHISTOGRAM_MAX_BINS bins. When a batch would need more,
//    the width is doubled (k times) and each 2^k adjacent bins are summed. This is exact coarsening (every
//    old bin lies inside one new bin, both start at 0), not re-binning; it only happens when max|x| grows
//    more than 32x past the first batch's, which pytorch-quantization would follow with an unbounded array.
//  - NaN and +-Inf are counted, never binned; min/max are over finite values only.
//
// Threading / lifetime: a Histogram is a plain value with no internal locking; one thread at a time may call
// a mutating method. HistogramSet (below) adds a lock per tensor so different tensors can be filled from
// different threads at once, and a set lock for its name table and its open batch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace trtc {

// Bins of the first histogram of a tensor (TensorRT and pytorch-quantization use 2048).
inline constexpr std::size_t kHISTOGRAM_BINS = 2048;
// Most bins one histogram may hold before it is coarsened by powers of two (512 KiB of counts).
inline constexpr std::size_t kHISTOGRAM_MAX_BINS = std::size_t{1} << 16;

// Thrown for incompatible merges and malformed serialized bytes. `what()` says why.
class HistogramError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Statistics of one batch of values gathered chunk by chunk (Histogram::beginAdd): how many values, how many
// NaN / +Inf / -Inf, and min/max over the finite ones.
struct HistogramScan {
  std::uint64_t count{0};
  std::uint64_t nan{0};
  std::uint64_t posInf{0};
  std::uint64_t negInf{0};
  float min{__builtin_huge_valf()};   // over finite values; +inf when none
  float max{-__builtin_huge_valf()};  // over finite values; -inf when none
  // Adds one chunk of the batch.
  void add(float const* data, std::size_t n);
  // The same, for a chunk whose min/max over non-NaN values (+-inf included) and NaN count were computed
  // along with the values (derived.cc); `data` is read again only when min or max is infinite.
  void addSummary(float const* data, std::size_t n, float chunkMin, float chunkMax, std::uint64_t chunkNan);
  // Adds another scan of the same batch (one of its parts).
  void merge(HistogramScan const& other);
  // max(|min|, |max|) over the finite values; 0 when there are none.
  float absMax() const noexcept;
};

class Histogram {
 public:
  // Bins one batch chunk by chunk, for values that are produced piece by piece and never held whole (tensors
  // computed from another one, HistogramSet::addChunked): scan every chunk into a HistogramScan, call
  // beginAdd(scan), give the binner the same chunks (any order), then finish(). The histogram then equals one
  // add() of all the values. The binner points into its histogram and its `lanes` scratch: neither may move
  // or be used otherwise until finish() returns.
  class Binner {
   public:
    void add(float const* data, std::size_t n);
    void finish();
    // False when the batch has nothing to bin (add() would do nothing).
    bool active() const noexcept { return mHistogram != nullptr; }

   private:
    friend class Histogram;
    // Bin of value v: min(floor(|v| / width), spill index), in float with the rounded reciprocal (double for
    // extreme widths).
    std::uint32_t binOf(float v) const noexcept;
    void fold(bool clear);
    Histogram* mHistogram{nullptr};  // nullptr: nothing to bin (no finite nonzero value in the batch)
    std::vector<std::uint32_t>* mLanes{
        nullptr};  // per-lane counters, or nullptr: count into the bins directly
    bool mCheckFinite{false};
    bool mFloatPath{true};
    float mInv{0.0F};
    double mInvD{0.0};
    std::uint32_t mSpillIndex{0};  // nbins: the spill count's index (values past the last bin)
    std::size_t mUsed{0};          // lane bins: those up to the bin of the batch's max|x|
    std::size_t mPending{0};       // values in the lane counters since they were last folded
  };

  // Width defined by the first batch with a nonzero max|x|.
  Histogram() = default;
  // Fixed width from the start (for shards that must merge with a histogram made elsewhere): `bins` bins of
  // `binWidth` (kHISTOGRAM_BINS, or the bin count of the histogram it will merge into, so that every value
  // lands in the bin it would have there), extended as usual. Throws HistogramError unless binWidth is finite
  // and > 0 and bins is in [1, kHISTOGRAM_MAX_BINS].
  explicit Histogram(double binWidth, std::size_t bins = kHISTOGRAM_BINS);

  // Adds n values: one pass for min/max/max|x| and NaN/Inf counts, one pass binning |x|. Safe for n == 0.
  void add(float const* data, std::size_t n);
  // Records a batch's statistics (counts, min/max, the width and bins it needs) and returns the binner for
  // its values (see Binner). `lanes` is scratch the binner may use; keep it for reuse across calls.
  Binner beginAdd(HistogramScan const& scan, std::vector<std::uint32_t>& lanes);

  // Adds another histogram of the same tensor. Widths must be equal (bin counts may differ: the shorter is
  // extended), or differ by an exact power of two (the finer one is coarsened as under the growth cap), or
  // either side may have no width yet (only zeros). Throws HistogramError otherwise, or when either side is
  // in a batch given in parts; *this is then unchanged.
  void merge(Histogram const& other);

  // A batch given in parts: after openBatch(), every add() / beginAdd() is one part of the same batch, until
  // closePass() returns false and closeBatch() is called; the histogram then equals one add() of all the
  // parts' values. Without a width at openBatch(), the first pass only scans the parts; closePass() then
  // defines the width from their max|x| and returns true: give the same parts again (a second pass, binned).
  // After closePass() returned false, further parts are ignored until closeBatch(). HistogramSet::beginBatch
  // drives this for a set.
  void openBatch();
  bool closePass();
  void closeBatch();
  // Ends a batch whose parts stop coming (an aborted pass): values already binned stay, with the open batch's
  // spill in the last bin; a first pass's scan is dropped.
  void abandonBatch();
  bool inBatch() const noexcept { return mBatch != BatchState::kNONE; }
  // True after the open batch is in (closePass returned false): adds are ignored until closeBatch().
  bool ignoresParts() const noexcept { return mBatch == BatchState::kDONE; }

  // Versioned little-endian bytes (format in histogram.cc); throws HistogramError in a batch given in parts.
  // deserialize throws HistogramError on bad bytes.
  void serializeTo(std::vector<std::uint8_t>& out) const;
  std::vector<std::uint8_t> serialize() const;
  static Histogram deserialize(std::uint8_t const* data, std::size_t size);
  // Reads one histogram at data[offset...], advancing offset (for containers of several).
  static Histogram deserializeFrom(std::uint8_t const* data, std::size_t size, std::size_t& offset);

  // 0 while undefined (no nonzero finite value seen yet and no fixed width).
  double binWidth() const noexcept { return mBinWidth; }
  std::size_t nbins() const noexcept { return mCounts.size(); }
  std::vector<std::uint64_t> const& counts() const noexcept { return mCounts; }
  // Upper edge of bin i-1, i.e. i * width.
  double edge(std::size_t i) const noexcept { return static_cast<double>(i) * mBinWidth; }

  // Every value seen, NaN/Inf included.
  std::uint64_t count() const noexcept { return mCount; }
  std::uint64_t nanCount() const noexcept { return mNanCount; }
  std::uint64_t posInfCount() const noexcept { return mPosInfCount; }
  std::uint64_t negInfCount() const noexcept { return mNegInfCount; }
  std::uint64_t finiteCount() const noexcept { return mCount - mNanCount - mPosInfCount - mNegInfCount; }
  // Finite values that are in the bins (equals finiteCount once a width is defined).
  std::uint64_t binnedCount() const noexcept;
  // Finite zeros waiting for a width (only while binWidth() == 0).
  std::uint64_t pendingZeros() const noexcept { return mPendingZeros; }
  // Over finite values; +inf / -inf when there are none.
  float min() const noexcept { return mMin; }
  float max() const noexcept { return mMax; }
  // max(|min|, |max|) over finite values; 0 when there are none.
  float absMax() const noexcept;

 private:
  // Where a batch given in parts stands (openBatch).
  enum class BatchState : std::uint8_t {
    kNONE,   // no batch in parts: every add() is a whole batch
    kPARTS,  // parts binned as they come (the width was defined before the batch)
    kSCAN,   // first pass without a width: parts only scanned into mBatchScan
    kREBIN,  // second pass: the parts binned at the width their max defined
    kDONE,   // the batch is in; further parts are ignored until closeBatch()
  };

  void defineWidth(double width);
  void ensureBins(double absMax);
  void coarsen(unsigned shift);
  // Ends the open batch's spill: its values go to the last bin.
  void commitSpill() noexcept;

  double mBinWidth{0.0};
  float mInvWidth{0.0F};
  std::vector<std::uint64_t> mCounts;
  std::uint64_t mCount{0};
  std::uint64_t mNanCount{0};
  std::uint64_t mPosInfCount{0};
  std::uint64_t mNegInfCount{0};
  std::uint64_t mPendingZeros{0};
  float mMin{__builtin_huge_valf()};
  float mMax{-__builtin_huge_valf()};
  // Values of the open batch past the last bin (floor(v/w) == nbins), until a later part adds bins or the
  // batch ends; 0 outside a batch given in parts.
  std::uint64_t mSpill{0};
  BatchState mBatch{BatchState::kNONE};
  HistogramScan mBatchScan;  // kSCAN: the parts so far
};

// Named histograms of one calibration run, in first-added order.
//
// Threading / lifetime: every method is safe to call from any thread. add() for different tensors runs in
// parallel (each tensor has its own lock); add() for the same tensor serializes. The set lock guards the name
// table and the open batch's tensor list. beginBatch / endPass / abandonBatch are called by the one pass that
// gives a batch in parts, between its adds (it waits for a pass's adds before endPass): parts of a pass may
// be added from any threads, a tensor's parts one at a time. Pointers/references are never handed out:
// accessors return copies taken under the tensor's lock.
class HistogramSet {
 public:
  HistogramSet() = default;
  HistogramSet(HistogramSet const&) = delete;
  HistogramSet& operator=(HistogramSet const&) = delete;

  // Adds n values to the tensor `name`, creating its histogram on first use (width from the data, or the
  // width fixed with setBinWidth before).
  void add(std::string const& name, float const* data, std::size_t n);
  // Adds n values to each tensor of `names` (distinct) at once, produced chunk by chunk and never held whole
  // (tensors computed element-wise from a model output, derived.h): produce(offset, count, out, scans) sets
  // out[k] to `count` values of tensor names[k] starting at element `offset`, for chunks of at most `chunk`
  // values. It is called twice per chunk and must give the same values both times: first with `scans`, when
  // it must also add each tensor's chunk to scans[k] (HistogramScan::add, or addSummary with statistics
  // computed along with the values), then with nullptr, to bin them. Each histogram equals add() of its
  // tensor's whole values. The tensors' locks are held throughout.
  using ChunkProducer =
      std::function<void(std::size_t offset, std::size_t count, float const** out, HistogramScan* scans)>;
  void addChunked(std::vector<std::string> const& names, std::size_t n, std::size_t chunk,
                  ChunkProducer const& produce);
  // Creates `name` with a fixed width and bin count (shards; Histogram(double, size_t)). Throws
  // HistogramError if it exists already with data or a width, or while a batch is open.
  void setBinWidth(std::string const& name, double binWidth, std::size_t bins = kHISTOGRAM_BINS);

  // One batch given in parts (a batch run as several sub-batches): the tensors `names` (created when missing,
  // in that order) take every add() / addChunked() until the batch ends as parts of that one batch, and end
  // with the histograms one add() of the whole batch would give (Histogram::openBatch). Returns whether one
  // of them has no width yet: only then can endPass() ask for a second pass. Other tensors' adds stay whole
  // batches. Throws std::logic_error when a batch is open already.
  bool beginBatch(std::vector<std::string> const& names);
  // Ends a pass over the open batch's parts. True: some histograms got their width from this pass's scan;
  // give the same parts again (adds to the other tensors are ignored meanwhile). False: the batch is in and
  // closed (also when none is open).
  bool endPass();
  // Closes an open batch whose parts stop coming (an error or abort): what was binned stays; no-op when none
  // is open.
  void abandonBatch();

  bool has(std::string const& name) const;
  std::vector<std::string> names() const;
  std::size_t size() const;
  // Copy of one histogram. Throws std::out_of_range for an unknown name.
  Histogram get(std::string const& name) const;

  // Merges every histogram of `other` into the one of the same name (adding missing names). All or nothing:
  // throws HistogramError naming the first incompatible tensor, or when either set has a batch open, and
  // leaves *this unchanged.
  void merge(HistogramSet const& other);

  // Container bytes (format in histogram.cc) and back; serialize throws HistogramError while a batch is open.
  // deserialize throws HistogramError on bad bytes.
  std::vector<std::uint8_t> serialize() const;
  static std::unique_ptr<HistogramSet> deserialize(std::uint8_t const* data, std::size_t size);

 private:
  struct Entry {
    mutable std::mutex mutex;
    Histogram histogram;
  };
  Entry& entry(std::string const& name);
  Entry const* find(std::string const& name) const;

  mutable std::mutex mMutex;
  std::vector<std::string> mOrder;
  std::unordered_map<std::string, std::unique_ptr<Entry>> mEntries;
  bool mBatchOpen{false};      // under mMutex
  std::vector<Entry*> mBatch;  // the open batch's tensors (under mMutex)
};

}  // namespace trtc
