// StreamingConv: 1-D causal filtering of signals that arrive in chunks (a
// thermometer read live, an audio callback, a sensor bus). It keeps the last
// dil·(k−1) samples of each channel and push(chunk) returns the outputs for
// that chunk, so that the outputs of any sequence of pushes (chunk lengths 1
// and up, varying) are those of one conv() over the concatenated signal with
// the causal padding (dil·(k−1), 0). Built on the public API only: each push
// is one convkit::conv over [history | chunk] with valid padding.
#pragma once

#include <convkit/context.hpp>
#include <convkit/conv.hpp>
#include <convkit/export.hpp>
#include <convkit/spec.hpp>
#include <convkit/tensor.hpp>
#include <convkit/types.hpp>

#include <cstdint>
#include <memory>

namespace convkit {

namespace detail {
class StreamingImpl;
}

/// A causal 1-D filter over N streams of C channels that advance together.
///
/// What it computes. `spec` is the one-shot spec the pushes reproduce: 1-D,
/// stride 1, boundary Zeros, padding exactly (dil·(k−1), 0) (e.g.
/// `Padding::per_dim({{dil * (k - 1), 0}})`), any groups, dilation, bias and
/// mode. Chunks are x [N, C, L] and outputs y [N, K, L]; weights are
/// w [K, C/G, k] as everywhere. Output sample t of channel k is
///  - Mode::Convolution: b[k] + Σ_c Σ_a w[k, c, a] · x[t − a·dil]  (the kernel
///    indexed by age: w[.., 0] weighs the newest sample);
///  - Mode::CrossCorrelation: the same with w[k, c, k_size − 1 − a], i.e.
///    the kernel indexed by reversed age (w[.., k_size − 1] weighs the newest
///    sample), which is PyTorch's Conv1d with left padding only;
/// x[t] for t before the first pushed sample being the history (zeros unless
/// set_history() gave one).
///
/// Where it runs. Like conv(): host weights make a host stream, whose pushes
/// take host views and run the CPU reference (Algorithm::Reference, or Auto,
/// which means Reference there); device weights make a device stream, whose
/// pushes take device views and run a GPU algorithm on ctx's stream,
/// asynchronously, never synchronising (except that Auto on a context with
/// tuning on times a new chunk length once, as conv() does, and that Fft,
/// named or chosen, makes cuFFT plans per chunk length: once the context's
/// plan cache is full, making one waits for the stream before the least
/// recently used plan is destroyed; each Fft push also transforms the
/// weights again, as a one-shot conv() does). Auto chooses by
/// choose_algorithm() once per chunk length (the choice is cached per length
/// and remade when the context's workspace limit or its TF32, determinism,
/// exactness or tuning flag changes; Context::set_exact keeps it off Fft).
/// Each push runs the same arithmetic as one conv() over the whole signal
/// (the zero padding becomes zero history): on the host the outputs
/// are bit-identical to the one-shot reference for any data; on the device
/// they are exact wherever the sums are (small integers, or readings and
/// weights on coarse binary grids) with the direct-sum algorithms, and
/// otherwise within the chosen algorithm's usual tolerance.
///
/// Memory. The weights (and bias) are copied at construction, on ctx's
/// stream for device weights: the caller's buffers may be freed once that
/// copy has run (after the constructor for host weights; for device weights
/// by a free ordered after ctx's stream, e.g. a DeviceTensor of the same
/// context, or after synchronising it). The history [N, C, dil·(k−1)] and a
/// working buffer for [history | chunk] live at the stream's location
/// (device memory allocated and freed on ctx's stream). `ctx` must outlive
/// the StreamingConv and stay where it is (not be moved from); the memory is
/// freed through the context's state, so destroying the StreamingConv after
/// the Context is safe.
///
/// Errors. Every argument is checked before any work; a call that throws
/// leaves the caller's outputs and the history as they were. Move-only; a
/// moved-from StreamingConv throws InvalidArgument ("used after move") from
/// every member call except assignment and the destructor.
class CONVKIT_EXPORT StreamingConv {
 public:
  /// A stream of `batch` signals with the channels w implies (C = w[1]·G),
  /// starting from zero history. w is host or device; `algo` is Auto,
  /// Reference (host) or a GPU algorithm (device; checked with supports() at
  /// construction for a one-sample chunk, and by conv() on every push).
  /// Throws InvalidArgument (spec not 1-D, padding not causal, boundary not
  /// Zeros, bad shapes, bias given / missing, batch < 1, algorithm at the
  /// wrong location), NotSupported (stride ≠ 1; an algorithm that cannot run
  /// the problem), NoDevice / OutOfMemory (device streams).
  StreamingConv(Context& ctx, const ConvSpec& spec, TensorArg w, Algorithm algo = Algorithm::Auto,
                std::int64_t batch = 1);
  /// As above with a bias [K] (spec.has_bias() must be true).
  StreamingConv(Context& ctx, const ConvSpec& spec, TensorArg w, TensorArg bias, Algorithm algo = Algorithm::Auto,
                std::int64_t batch = 1);
  ~StreamingConv();
  StreamingConv(StreamingConv&&) noexcept;
  StreamingConv& operator=(StreamingConv&&) noexcept;
  StreamingConv(const StreamingConv&) = delete;
  StreamingConv& operator=(const StreamingConv&) = delete;

  /// Filters the next chunk x [N, C, L] into y [N, K, L] and keeps the last
  /// dil·(k−1) samples of [history | x] as the new history. L = 0 is a no-op
  /// (y is empty, the history stays). x and y are of the stream's dtype and
  /// location; y must not overlap x. x may be reused once the push is done
  /// on the stream (its samples are copied into the working buffer).
  void push(TensorArg x, TensorArg y);

  /// Allocating forms: y on the stream's location ([N, K, L]).
  template <class T>
  HostTensor<T> push(const HostTensor<T>& x) {
    HostTensor<T> y(output_shape(x.shape()));
    push(x.view(), y.view());
    return y;
  }
  template <class T>
  DeviceTensor<T> push(const DeviceTensor<T>& x) {
    DeviceTensor<T> y(context(), output_shape(x.shape()));
    push(x.view(), y.view());
    return y;
  }

  /// Continue from history h [N, C, dil·(k−1)] (the samples just before the
  /// next push, oldest first), copied from the caller, who may reuse h once
  /// the copy is done on the stream. h also becomes the start that reset()
  /// returns to. Starting from the first reading repeated reproduces a
  /// one-shot conv() with Boundary::Replicate.
  void set_history(TensorArg h);
  /// Back to zero history, as at construction (reset() then returns there too).
  void zero_history();
  /// Back to the start: the history last given to set_history(), else zeros.
  void reset();

  /// The current history [N, C, dil·(k−1)] at the stream's location
  /// (read-only; a device view is read after ctx.synchronize()). Its memory
  /// is the StreamingConv's own and stays put for its lifetime.
  TensorArg history() const;

  /// [N, K, L] for a chunk of shape x = [N, C, L]; validates the chunk shape.
  Shape output_shape(const Shape& x) const;
  /// The algorithm a push of L samples runs (Auto: its choice, made and
  /// cached here if not yet; Reference on a host stream). L >= 1.
  Algorithm algorithm_for(std::int64_t L);

  /// The spec of each push's conv(): the caller's with valid padding.
  const ConvSpec& push_spec() const;
  Algorithm algorithm() const;  ///< as asked for (Auto stays Auto)
  DType dtype() const;
  Location location() const;
  std::int64_t batch() const;           ///< N
  std::int64_t channels() const;        ///< C
  std::int64_t out_channels() const;    ///< K
  std::int64_t history_length() const;  ///< dil·(k−1)
  /// Samples pushed per channel since construction or the last
  /// reset() / set_history() / zero_history().
  std::int64_t samples_pushed() const;
  /// The context the stream runs on.
  Context& context() const;

 private:
  std::unique_ptr<detail::StreamingImpl> impl_;
};

}  // namespace convkit
