// The convolution as a matrix: builds the Toeplitz matrix of the classic 1-D
// example (a signal of 5 samples, a kernel of 3 taps, padding 'valid'),
// prints its size, storage and dense form, multiplies it with the signal, and
// writes it in Matrix Market form for SciPy (scipy.io.mmread), MATLAB or
// Julia. Needs no GPU: toeplitz::build runs on the host.
#include <convkit/convkit.hpp>

#include <iostream>
#include <vector>

int main() {
  const std::vector<float> x = {1, 2, 3, 4, 5};
  const std::vector<float> w = {1, 2, 3};
  const convkit::ConvSpec spec = convkit::ConvSpec::conv1d();  // cross-correlation, padding valid
  const convkit::Shape xs{1, 1, 5}, ws{1, 1, 3};

  auto T = convkit::toeplitz::build(spec, xs, convkit::TensorView<const float>::host(w.data(), ws));
  std::cout << "x = [1 2 3 4 5], w = [1 2 3], cross-correlation, padding valid\n";
  std::cout << T.info().str() << "\n";

  const std::vector<float> dense = T.to_dense();
  for (std::int64_t r = 0; r < T.rows(); ++r) {
    std::cout << "  [";
    for (std::int64_t c = 0; c < T.cols(); ++c) std::cout << (c ? " " : "") << dense[r * T.cols() + c];
    std::cout << "]\n";
  }

  std::vector<float> y(T.rows());
  T.multiply(x.data(), y.data());
  std::vector<float> y_ref(T.rows());
  convkit::reference::conv(spec, convkit::TensorView<const float>::host(x.data(), xs),
                           convkit::TensorView<const float>::host(w.data(), ws),
                           convkit::TensorView<float>::host(y_ref.data(), {1, 1, 3}));
  std::cout << "T x = [";
  for (std::size_t i = 0; i < y.size(); ++i) std::cout << (i ? " " : "") << y[i];
  std::cout << "]  (reference::conv: " << (y == y_ref ? "same" : "DIFFERENT") << ")\n";

  std::cout << "Matrix Market:\n";
  T.write_matrix_market(std::cout);
  return y == y_ref ? 0 : 1;
}
