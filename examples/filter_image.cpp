// Filtering a grey image: reads a PGM (binary P5 or text P2, 8-bit), convolves
// it with a box, Gaussian or edge (Laplacian) kernel, writes a PGM.
//
//   convkit_filter_image [in.pgm|-] [out.pgm] [box|gaussian|edge] [size]
//
// With no input (or "-") it synthesises a test card so the example runs
// anywhere. On a machine with a GPU the filter runs through Algorithm::Auto
// (the choice is explained) and is checked against the CPU reference;
// without one the CPU reference does the work. Border: Replicate, so edges
// do not darken as zero padding would.
#include <convkit/convkit.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Image {
  int width = 0, height = 0;
  std::vector<float> pixels;  // row-major, 0..255
};

// Reads the next header token of a PGM, skipping '#' comments.
std::string token(std::istream& in) {
  std::string t;
  while (in >> t) {
    if (t[0] != '#') return t;
    std::getline(in, t);
  }
  throw std::runtime_error("PGM: truncated header");
}

Image read_pgm(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  const std::string magic = token(in);
  if (magic != "P5" && magic != "P2") throw std::runtime_error(path + ": not a PGM (P5/P2) file");
  Image im;
  im.width = std::stoi(token(in));
  im.height = std::stoi(token(in));
  const int maxval = std::stoi(token(in));
  if (im.width <= 0 || im.height <= 0 || maxval <= 0 || maxval > 255)
    throw std::runtime_error(path + ": unsupported PGM size or depth (8-bit only)");
  im.pixels.resize(std::size_t(im.width) * im.height);
  if (magic == "P5") {
    in.get();  // the single whitespace after maxval
    std::vector<unsigned char> raw(im.pixels.size());
    if (!in.read(reinterpret_cast<char*>(raw.data()), std::streamsize(raw.size())))
      throw std::runtime_error(path + ": truncated pixel data");
    for (std::size_t i = 0; i < raw.size(); ++i) im.pixels[i] = raw[i] * 255.0f / maxval;
  } else {
    for (auto& p : im.pixels) p = std::stof(token(in)) * 255.0f / maxval;
  }
  return im;
}

void write_pgm(const std::string& path, const Image& im) {
  std::ofstream out(path, std::ios::binary);
  out << "P5\n" << im.width << " " << im.height << "\n255\n";
  for (float p : im.pixels) out.put(char(static_cast<unsigned char>(std::lround(std::fmin(255.f, std::fmax(0.f, p))))));
  if (!out) throw std::runtime_error("cannot write " + path);
}

// A test card: gradients, a disc and stripes, so every filter shows.
Image test_card() {
  Image im;
  im.width = 320;
  im.height = 240;
  im.pixels.resize(std::size_t(im.width) * im.height);
  for (int y = 0; y < im.height; ++y)
    for (int x = 0; x < im.width; ++x) {
      float v = 40.f + 120.f * x / im.width;
      if ((x - 160) * (x - 160) + (y - 120) * (y - 120) < 60 * 60) v = 230.f;
      if (x > 250 && (y / 8) % 2 == 0) v = 20.f;
      im.pixels[std::size_t(y) * im.width + x] = v;
    }
  return im;
}

std::vector<float> make_kernel(const std::string& kind, int size) {
  std::vector<float> k(std::size_t(size) * size);
  if (kind == "box") {
    for (auto& v : k) v = 1.f / float(k.size());
  } else if (kind == "gaussian") {
    const double sigma = size / 6.0, c = (size - 1) / 2.0;
    double sum = 0;
    for (int i = 0; i < size; ++i)
      for (int j = 0; j < size; ++j) sum += k[i * size + j] = float(std::exp(-((i - c) * (i - c) + (j - c) * (j - c)) / (2 * sigma * sigma)));
    for (auto& v : k) v = float(v / sum);
  } else if (kind == "edge") {
    // Laplacian of the centre against its ring: sums to zero, flat areas go black.
    for (auto& v : k) v = -1.f;
    k[(size / 2) * size + size / 2] = float(size * size - 1);
  } else {
    throw std::runtime_error("kernel must be box, gaussian or edge, not '" + kind + "'");
  }
  return k;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string in = argc > 1 ? argv[1] : "-";
    const std::string out = argc > 2 ? argv[2] : "filtered.pgm";
    const std::string kind = argc > 3 ? argv[3] : "gaussian";
    const int size = argc > 4 ? std::stoi(argv[4]) : 7;
    if (size < 1 || size > 63) throw std::runtime_error("size must be in 1..63");
    const Image src = in == "-" ? test_card() : read_pgm(in);
    const std::vector<float> w = make_kernel(kind, size);

    auto spec = convkit::ConvSpec::conv2d()
                    .padding(convkit::Padding::same())
                    .boundary(convkit::Boundary::Replicate);
    const convkit::Shape xs{1, 1, src.height, src.width}, ws{1, 1, size, size};
    Image dst = src;
    convkit::reference::conv(spec, convkit::TensorView<const float>::host(src.pixels.data(), xs),
                             convkit::TensorView<const float>::host(w.data(), ws),
                             convkit::TensorView<float>::host(dst.pixels.data(), xs));
    std::printf("%dx%d image, %s %dx%d kernel, replicate border\n", src.width, src.height, kind.c_str(), size,
                size);
    if (convkit::device_available()) {
      convkit::Context ctx;
      std::cout << convkit::choose_algorithm(ctx, spec, xs, ws, convkit::DType::F32).explain();
      auto x = convkit::DeviceTensor<float>::from_host(ctx, src.pixels, xs);
      auto k = convkit::DeviceTensor<float>::from_host(ctx, w, ws);
      const auto y = convkit::conv(ctx, spec, x, k).to_host();
      // Per pixel, f32 may differ from the double reference by at most
      // (1e-6·sqrt(taps) + 1e-7) · Σ|x·w|; Σ|x·w| is the reference run on
      // |image| and |kernel|.
      std::vector<float> abs_px(src.pixels.size()), abs_w(w.size()), mag(src.pixels.size());
      for (std::size_t i = 0; i < abs_px.size(); ++i) abs_px[i] = std::fabs(src.pixels[i]);
      for (std::size_t i = 0; i < abs_w.size(); ++i) abs_w[i] = std::fabs(w[i]);
      convkit::reference::conv(spec, convkit::TensorView<const float>::host(abs_px.data(), xs),
                               convkit::TensorView<const float>::host(abs_w.data(), ws),
                               convkit::TensorView<float>::host(mag.data(), xs));
      const double factor = 1e-6 * std::sqrt(double(size) * size) + 1e-7;
      double worst = 0;
      std::int64_t bad = 0;
      for (std::int64_t i = 0; i < y.numel(); ++i) {
        const double d = std::fabs(double(y[i]) - dst.pixels[i]);
        worst = std::fmax(worst, d);
        if (!(d <= factor * mag[i])) ++bad;  // a NaN counts as bad
      }
      std::printf("GPU result vs CPU reference: max |difference| = %.3g, %lld pixel(s) outside the tolerance\n",
                  worst, static_cast<long long>(bad));
      if (bad) throw std::runtime_error("the GPU result differs from the CPU reference");
      for (std::int64_t i = 0; i < y.numel(); ++i) dst.pixels[i] = y[i];
    } else {
      std::printf("no CUDA device: filtered with the CPU reference\n");
    }
    if (kind == "edge")
      for (auto& p : dst.pixels) p = std::fabs(p);
    write_pgm(out, dst);
    std::printf("wrote %s\n", out.c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
