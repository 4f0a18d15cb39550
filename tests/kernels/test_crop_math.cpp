// Host-side tests of the crop kernel's per-pixel math (crop_math.cuh), run by ctest.
//
// The reference is an independent textbook bilinear warp in double precision with a constant border;
// the kernel math must agree with it to within half an intensity level plus float rounding.
// Usage: test_crop_math CASE   (ctest runs each case as its own test)
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "crop_test_support.h"

namespace {

using vitpose::kChannels;

int g_failures = 0;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            ++g_failures;                                                  \
            std::fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
            std::fprintf(stderr, __VA_ARGS__);                             \
            std::fprintf(stderr, "\n");                                    \
            if (g_failures > 20) return;                                   \
        }                                                                  \
    } while (0)

constexpr int kHeight = 48;
constexpr int kWidth = 64;
// Half a level for rounding plus a margin for float coordinates and weights.
constexpr double kReferenceTolerance = 0.5 + 0.05;

struct Affine {
    double m[6];  // crop px -> image px
};

double reference_pixel(const std::vector<unsigned char>& image, int ix, int iy, int c, double border) {
    if (ix < 0 || iy < 0 || ix >= kWidth || iy >= kHeight) return border;
    return image[(static_cast<size_t>(iy) * kWidth + ix) * kChannels + c];
}

// Textbook bilinear interpolation at (sx, sy), all in double.
double reference_level(const std::vector<unsigned char>& image, double sx, double sy, int c, double border) {
    const double x0 = std::floor(sx), y0 = std::floor(sy);
    const double ax = sx - x0, ay = sy - y0;
    const int ix = static_cast<int>(x0), iy = static_cast<int>(y0);
    return (1 - ay) * ((1 - ax) * reference_pixel(image, ix, iy, c, border) + ax * reference_pixel(image, ix + 1, iy, c, border)) +
           ay * ((1 - ax) * reference_pixel(image, ix, iy + 1, c, border) + ax * reference_pixel(image, ix + 1, iy + 1, c, border));
}

size_t index(const vitpose::CropParams& p, int slot, int c, int y, int x) {
    return static_cast<size_t>(vitpose::crop_index(p, slot, c, y, x));
}

void identity_reproduces_image() {
    const auto image = vitpose_test::test_image(kHeight, kWidth, 1);
    const std::vector<float> warp = {1, 0, 0, 0, 1, 0};
    const auto p = vitpose_test::raw_level_params(image, kHeight, kWidth, warp, kHeight, kWidth);
    const auto out = vitpose_test::host_crops<float>(p);
    for (int y = 0; y < kHeight; ++y)
        for (int x = 0; x < kWidth; ++x)
            for (int c = 0; c < kChannels; ++c)
                CHECK(out[index(p, 0, c, y, x)] == image[(y * kWidth + x) * kChannels + c], "at (%d,%d,%d)", x, y, c);
}

void integer_shift_and_border() {
    const auto image = vitpose_test::test_image(kHeight, kWidth, 2);
    const int dx = 5, dy = -3;
    const std::vector<float> warp = {1, 0, float(dx), 0, 1, float(dy)};
    auto p = vitpose_test::raw_level_params(image, kHeight, kWidth, warp, kHeight, kWidth);
    p.border = 7.0f;
    const auto out = vitpose_test::host_crops<float>(p);
    for (int y = 0; y < kHeight; ++y)
        for (int x = 0; x < kWidth; ++x)
            for (int c = 0; c < kChannels; ++c) {
                const int sx = x + dx, sy = y + dy;
                const bool inside = sx >= 0 && sy >= 0 && sx < kWidth && sy < kHeight;
                const float expected = inside ? image[(sy * kWidth + sx) * kChannels + c] : 7.0f;
                CHECK(out[index(p, 0, c, y, x)] == expected, "at (%d,%d,%d): %f vs %f", x, y, c,
                      out[index(p, 0, c, y, x)], expected);
            }
}

void half_pixel_rounds_half_to_even() {
    const auto image = vitpose_test::test_image(kHeight, kWidth, 3);
    const std::vector<float> warp = {1, 0, 0.5f, 0, 1, 0};
    const auto p = vitpose_test::raw_level_params(image, kHeight, kWidth, warp, kHeight, kWidth - 1);
    const auto out = vitpose_test::host_crops<float>(p);
    for (int y = 0; y < kHeight; ++y)
        for (int x = 0; x < kWidth - 1; ++x)
            for (int c = 0; c < kChannels; ++c) {
                const int a = image[(y * kWidth + x) * kChannels + c], b = image[(y * kWidth + x + 1) * kChannels + c];
                const int sum = a + b;  // mean = sum / 2; ties go to the even neighbour
                const int expected = (sum % 2 == 0) ? sum / 2 : ((sum / 2) % 2 == 0 ? sum / 2 : sum / 2 + 1);
                CHECK(out[index(p, 0, c, y, x)] == expected, "(%d + %d) / 2 -> %f", a, b, out[index(p, 0, c, y, x)]);
            }
}

std::vector<Affine> random_affines() {
    std::vector<Affine> warps;
    std::uint32_t state = 12345u;
    auto uniform = [&state](double lo, double hi) {
        state = state * 1664525u + 1013904223u;
        return lo + (hi - lo) * (state >> 8) / double(1u << 24);
    };
    for (int i = 0; i < 24; ++i) {
        const double scale = uniform(0.2, 3.0), angle = uniform(-0.6, 0.6);
        const double a = scale * std::cos(angle), b = scale * std::sin(angle);
        // Translations that put the crop partly or wholly outside the image sometimes.
        warps.push_back(Affine{{a, -b, uniform(-40, kWidth), b, a, uniform(-30, kHeight)}});
    }
    return warps;
}

void random_affines_match_reference() {
    const auto image = vitpose_test::test_image(kHeight, kWidth, 4);
    const auto affines = random_affines();
    std::vector<float> warps;
    for (const auto& a : affines) warps.insert(warps.end(), a.m, a.m + 6);
    const int crop_h = 32, crop_w = 24;
    auto p = vitpose_test::raw_level_params(image, kHeight, kWidth, warps, crop_h, crop_w);
    p.border = 11.0f;
    const auto out = vitpose_test::host_crops<float>(p);
    double worst = 0;
    for (int n = 0; n < p.num_boxes; ++n) {
        const double m[6] = {warps[6 * n], warps[6 * n + 1], warps[6 * n + 2], warps[6 * n + 3], warps[6 * n + 4], warps[6 * n + 5]};  // the float32 matrix the kernel gets
        for (int y = 0; y < crop_h; ++y)
            for (int x = 0; x < crop_w; ++x)
                for (int c = 0; c < kChannels; ++c) {
                    const double ref = reference_level(image, m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5], c, 11.0);
                    const double got = out[index(p, n, c, y, x)];
                    worst = std::fmax(worst, std::fabs(got - ref));
                    CHECK(std::fabs(got - ref) <= kReferenceTolerance, "box %d (%d,%d,%d): %f vs %f", n, x, y, c, got, ref);
                }
    }
    std::printf("worst |kernel - reference| = %.4f levels\n", worst);
}

void far_outside_and_nan_give_border() {
    const auto image = vitpose_test::test_image(kHeight, kWidth, 5);
    const float nan = std::nanf("");
    const std::vector<float> warps = {1, 0, 1e12f, 0, 1, 0, 1, 0, -5e9f, 0, 1, 3, nan, 0, 0, 0, 1, 0};
    auto p = vitpose_test::raw_level_params(image, kHeight, kWidth, warps, 8, 6);
    p.border = 42.0f;
    const auto out = vitpose_test::host_crops<float>(p);
    for (float v : out) CHECK(v == 42.0f, "got %f", v);
}

void mirrored_copy_is_reversed() {
    const auto image = vitpose_test::test_image(kHeight, kWidth, 6);
    const std::vector<float> warps = {0.7f, 0.1f, 3.2f, -0.1f, 0.8f, 2.5f, 1.3f, 0, -4, 0, 1.3f, 1};
    auto p = vitpose_test::raw_level_params(image, kHeight, kWidth, warps, 20, 15);
    p.mirror_base = p.num_boxes;
    const auto out = vitpose_test::host_crops<float>(p);
    for (int n = 0; n < p.num_boxes; ++n)
        for (int c = 0; c < kChannels; ++c)
            for (int y = 0; y < p.crop_height; ++y)
                for (int x = 0; x < p.crop_width; ++x)
                    CHECK(out[index(p, p.mirror_base + n, c, y, p.crop_width - 1 - x)] == out[index(p, n, c, y, x)],
                          "box %d (%d,%d,%d)", n, x, y, c);
}

void bgr_and_strided_views_match_rgb() {
    const auto rgb = vitpose_test::test_image(kHeight, kWidth, 7);
    // The same picture stored BGR inside a wider, padded buffer (every other column, 4 bytes per pixel).
    const int pixel_bytes = 4, padded_width = 2 * kWidth + 3;
    std::vector<unsigned char> padded(static_cast<size_t>(kHeight) * padded_width * pixel_bytes, 0);
    for (int y = 0; y < kHeight; ++y)
        for (int x = 0; x < kWidth; ++x)
            for (int c = 0; c < kChannels; ++c)
                padded[(static_cast<size_t>(y) * padded_width + 2 * x) * pixel_bytes + (kChannels - 1 - c)] =
                    rgb[(y * kWidth + x) * kChannels + c];
    const std::vector<float> warps = {0.9f, -0.2f, 5.5f, 0.2f, 0.9f, -2.25f};
    const auto p_rgb = vitpose_test::raw_level_params(rgb, kHeight, kWidth, warps, 16, 12);
    auto p_bgr = p_rgb;
    p_bgr.image = vitpose::ImageView{padded.data(), kHeight, kWidth, static_cast<long long>(padded_width) * pixel_bytes,
                                     2 * pixel_bytes, 1, 1};
    const auto a = vitpose_test::host_crops<float>(p_rgb), b = vitpose_test::host_crops<float>(p_bgr);
    CHECK(a.size() == b.size(), "sizes differ");
    for (size_t i = 0; i < a.size(); ++i) CHECK(a[i] == b[i], "element %zu: %f vs %f", i, a[i], b[i]);
}

void normalisation_uses_rgb_mean_and_std() {
    const std::vector<unsigned char> image = {10, 100, 250};  // one RGB pixel
    const std::vector<float> warp = {1, 0, 0, 0, 1, 0};
    auto p = vitpose_test::raw_level_params(image, 1, 1, warp, 1, 1);
    const float mean[3] = {123.675f, 116.28f, 103.53f}, std_[3] = {58.395f, 57.12f, 57.375f};
    for (int c = 0; c < kChannels; ++c) p.mean[c] = mean[c], p.scale[c] = 1.0f / std_[c];
    const auto out = vitpose_test::host_crops<float>(p);
    for (int c = 0; c < kChannels; ++c) {
        const float expected = (static_cast<float>(image[c]) - mean[c]) * (1.0f / std_[c]);
        CHECK(out[c] == expected, "channel %d: %f vs %f", c, out[c], expected);
    }
}

void half_bits_round_to_nearest_even() {
    struct Case { float value; unsigned short bits; };
    const Case cases[] = {
        {0.0f, 0x0000}, {-0.0f, 0x8000}, {1.0f, 0x3C00}, {-2.0f, 0xC000}, {0.5f, 0x3800},
        {65504.0f, 0x7BFF}, {65520.0f, 0x7C00}, {1e6f, 0x7C00}, {-1e6f, 0xFC00},
        {1.0f + 1.0f / 2048, 0x3C00},               // tie, rounds to even (down)
        {1.0f + 3.0f / 2048, 0x3C02},               // tie, rounds to even (up)
        {1.0f + 1.0f / 2048 + 1.0f / 65536, 0x3C01},  // just above the tie
        {5.960464477539063e-08f, 0x0001},           // smallest subnormal
        {2.98023223876953125e-08f, 0x0000},         // half of it: tie to even (zero)
        {6.103515625e-05f, 0x0400},                 // smallest normal
        {-2.1179039f, 0xC03C},                      // (0 - 123.675) / 58.395
        {INFINITY, 0x7C00}, {-INFINITY, 0xFC00},
    };
    for (const auto& k : cases) {
        const unsigned short got = vitpose::half_bits_from_float(k.value);
        CHECK(got == k.bits, "%.9g -> 0x%04X, expected 0x%04X", k.value, got, k.bits);
    }
    const unsigned short nan_bits = vitpose::half_bits_from_float(std::nanf(""));
    CHECK((nan_bits & 0x7C00) == 0x7C00 && (nan_bits & 0x03FF) != 0, "NaN -> 0x%04X", nan_bits);
}

void fp16_output_matches_fp32_output() {
    const auto image = vitpose_test::test_image(kHeight, kWidth, 8);
    const std::vector<float> warps = {0.8f, 0.05f, 1.5f, -0.05f, 0.8f, 3.0f};
    auto p = vitpose_test::raw_level_params(image, kHeight, kWidth, warps, 16, 12);
    p.mean[0] = 123.675f, p.scale[0] = 1.0f / 58.395f;
    const auto f32 = vitpose_test::host_crops<float>(p);
    const auto f16 = vitpose_test::host_crops<unsigned short>(p);
    for (size_t i = 0; i < f32.size(); ++i)
        CHECK(f16[i] == vitpose::half_bits_from_float(f32[i]), "element %zu", i);
}

const std::map<std::string, std::function<void()>>& cases() {
    static const std::map<std::string, std::function<void()>> all = {
        {"identity", identity_reproduces_image},
        {"integer_shift", integer_shift_and_border},
        {"half_pixel", half_pixel_rounds_half_to_even},
        {"random_affines", random_affines_match_reference},
        {"far_outside", far_outside_and_nan_give_border},
        {"mirror", mirrored_copy_is_reversed},
        {"bgr_strided", bgr_and_strided_views_match_rgb},
        {"normalise", normalisation_uses_rgb_mean_and_std},
        {"half_bits", half_bits_round_to_nearest_even},
        {"fp16_output", fp16_output_matches_fp32_output},
    };
    return all;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2 || !cases().count(argv[1])) {
        std::fprintf(stderr, "usage: %s CASE\ncases:", argv[0]);
        for (const auto& kv : cases()) std::fprintf(stderr, " %s", kv.first.c_str());
        std::fprintf(stderr, "\n");
        return 2;
    }
    cases().at(argv[1])();
    if (g_failures) std::fprintf(stderr, "%s: %d check(s) failed\n", argv[1], g_failures);
    return g_failures ? 1 : 0;
}
