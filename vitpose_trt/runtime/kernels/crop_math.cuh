// Per-pixel math of the crop kernel: affine source point, bilinear sample, normalisation, fp16 store.
//
// Everything here is `__host__ __device__`, so the same source compiles into the CUDA kernel
// (nvcc fatbin or NVRTC) and into host-side tests (g++ or nvcc host pass).
//
// Frames: a crop pixel (x, y) in [0, crop_width) x [0, crop_height) maps to the image point
// (sx, sy) = inverse_warp * (x, y, 1), in image pixels (pixel centres at integers, like OpenCV).
//
// The arithmetic follows OpenCV's float warpAffine (OpenCV 5.x, INTER_LINEAR, 8-bit), bit for bit:
//   matrix     inverted in double by the caller, then rounded to float32
//   row term   y * m1 + m2 in float32 (no FMA), then  sx = fmaf(m0, x, row term)
//   weights    fx = sx - floor(sx), v = fma(fy, v1 - v0, v0) with v0/v1 = fma(fx, right - left, left)
//   result     rounded half-to-even to an 8-bit level, then (level - mean) * (1 / std) in float32,
// so crops match the CPU path (cv2.warpAffine + normalise) to within one intensity level.
#pragma once

#if !defined(__CUDACC_RTC__)
#include <cmath>
#endif

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define VT_HD __host__ __device__ __forceinline__
#else
#define VT_HD inline
#endif

namespace vitpose {

constexpr int kChannels = 3;
constexpr int kMaxLevel = 255;
// Source coordinates beyond this many pixels are treated as outside (keeps float -> int defined).
constexpr float kFarOutside = 1.0e9f;
// Marker source index for points that are far outside or not finite.
constexpr int kOutsideIndex = -2;

// An 8-bit HWC image with strides in elements (bytes); bgr != 0 means channel 0 is blue.
struct ImageView {
    const unsigned char* data;
    int height;
    int width;
    long long row_stride;
    long long col_stride;
    long long channel_stride;
    int bgr;
};

// Everything the kernel needs besides the image and the output pointer.
//   inverse_warps: (num_boxes, 6) float32, crop px -> image px, row-major 2x3.
//   mean / scale: per RGB channel on 0-255 values; scale = 1 / std, rounded to float32.
//   mirror_base: the mirrored copy of box n goes to output slot mirror_base + n; < 0 = no mirror.
struct CropParams {
    ImageView image;
    const float* inverse_warps;
    int num_boxes;
    int crop_height;
    int crop_width;
    float mean[kChannels];
    float scale[kChannels];
    float border;
    int mirror_base;
};

struct SourcePoint {
    int ix;    // floor(sx), or kOutsideIndex
    int iy;    // floor(sy), or kOutsideIndex
    float fx;  // sx - ix in [0, 1)
    float fy;  // sy - iy in [0, 1)
};

// Float multiply/add without contraction into an FMA, so host and device round alike (and like OpenCV).
VT_HD float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
    return __fmul_rn(a, b);
#else
    return a * b;
#endif
}

VT_HD float add_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
    return __fadd_rn(a, b);
#else
    return a + b;
#endif
}

VT_HD float fused_multiply_add(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
    return __fmaf_rn(a, b, c);
#else
    return std::fma(a, b, c);
#endif
}

VT_HD float floor_float(float v) {
#if defined(__CUDA_ARCH__)
    return floorf(v);
#else
    return std::floor(v);
#endif
}

// Nearest integer, ties to even (the default rounding mode on host and device).
VT_HD float round_half_even(float v) {
#if defined(__CUDA_ARCH__)
    return rintf(v);
#else
    return std::nearbyint(v);
#endif
}

// True for finite coordinates within kFarOutside pixels; false for NaN and infinities.
VT_HD bool is_near(float v) { return v > -kFarOutside && v < kFarOutside; }

// The image point sampled for crop pixel (x, y) under a 2x3 inverse warp m (crop px -> image px).
VT_HD SourcePoint source_point(const float* m, int x, int y) {
    const float row_x = add_rn(mul_rn(static_cast<float>(y), m[1]), m[2]);
    const float row_y = add_rn(mul_rn(static_cast<float>(y), m[4]), m[5]);
    const float sx = fused_multiply_add(m[0], static_cast<float>(x), row_x);
    const float sy = fused_multiply_add(m[3], static_cast<float>(x), row_y);
    SourcePoint p;
    if (!is_near(sx) || !is_near(sy)) {
        p.ix = p.iy = kOutsideIndex;
        p.fx = p.fy = 0.0f;
        return p;
    }
    const float x0 = floor_float(sx);
    const float y0 = floor_float(sy);
    p.ix = static_cast<int>(x0);
    p.iy = static_cast<int>(y0);
    p.fx = sx - x0;
    p.fy = sy - y0;
    return p;
}

// Image channel `c` (0..2, in RGB order) at integer pixel (ix, iy), or `border` outside the image.
VT_HD float pixel_or_border(const ImageView& image, int ix, int iy, int c, float border) {
    if (static_cast<unsigned>(ix) >= static_cast<unsigned>(image.width) ||
        static_cast<unsigned>(iy) >= static_cast<unsigned>(image.height)) {
        return border;
    }
    const int source_channel = image.bgr ? (kChannels - 1 - c) : c;
    const long long offset = iy * image.row_stride + ix * image.col_stride + source_channel * image.channel_stride;
    return static_cast<float>(image.data[offset]);
}

VT_HD float bilinear(float p00, float p01, float p10, float p11, float fx, float fy) {
    const float top = fused_multiply_add(fx, p01 - p00, p00);
    const float bottom = fused_multiply_add(fx, p11 - p10, p10);
    return fused_multiply_add(fy, bottom - top, top);
}

// Round half to even and saturate to [0, 255], like cv::saturate_cast<uchar>(float).
VT_HD float round_to_level(float v) {
    const float r = round_half_even(v);
    return r < 0.0f ? 0.0f : (r > static_cast<float>(kMaxLevel) ? static_cast<float>(kMaxLevel) : r);
}

// The 8-bit level of channel c (RGB order) at source point p: bilinear with constant border.
VT_HD float sample_level(const ImageView& image, const SourcePoint& p, int c, float border) {
    const float p00 = pixel_or_border(image, p.ix, p.iy, c, border);
    const float p01 = pixel_or_border(image, p.ix + 1, p.iy, c, border);
    const float p10 = pixel_or_border(image, p.ix, p.iy + 1, c, border);
    const float p11 = pixel_or_border(image, p.ix + 1, p.iy + 1, c, border);
    return round_to_level(bilinear(p00, p01, p10, p11, p.fx, p.fy));
}

// The float32 operations of the CPU path (cpu_crops.normalisation_table), so equal levels give equal bits.
VT_HD float normalise(float level, float mean, float scale) { return (level - mean) * scale; }

// IEEE binary16 bits of v, round to nearest even (the host twin of cvt.rn.f16.f32).
VT_HD unsigned short half_bits_from_float(float v) {
#if defined(__CUDA_ARCH__)
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(v));
    return h;
#else
    unsigned int bits;
    __builtin_memcpy(&bits, &v, sizeof(bits));
    const unsigned int sign = (bits >> 16) & 0x8000u;
    const unsigned int exponent = (bits >> 23) & 0xFFu;
    unsigned int mantissa = bits & 0x7FFFFFu;
    if (exponent == 0xFFu) {  // inf or NaN (NaN stays quiet NaN)
        return static_cast<unsigned short>(sign | 0x7C00u | (mantissa ? 0x200u : 0u));
    }
    const int half_exponent = static_cast<int>(exponent) - 127 + 15;
    if (half_exponent >= 0x1F) {
        return static_cast<unsigned short>(sign | 0x7C00u);
    }
    if (half_exponent <= 0) {  // subnormal half or zero
        if (half_exponent < -10) {
            return static_cast<unsigned short>(sign);
        }
        mantissa |= 0x800000u;
        const int shift = 14 - half_exponent;
        unsigned int value = mantissa >> shift;
        const unsigned int remainder = mantissa & ((1u << shift) - 1u);
        const unsigned int halfway = 1u << (shift - 1);
        if (remainder > halfway || (remainder == halfway && (value & 1u))) {
            ++value;
        }
        return static_cast<unsigned short>(sign | value);
    }
    unsigned int value = (static_cast<unsigned int>(half_exponent) << 10) | (mantissa >> 13);
    const unsigned int remainder = mantissa & 0x1FFFu;
    if (remainder > 0x1000u || (remainder == 0x1000u && (value & 1u))) {
        ++value;  // may carry into the exponent, up to infinity: still correct
    }
    return static_cast<unsigned short>(sign | value);
#endif
}

VT_HD void store(float* out, long long index, float v) { out[index] = v; }
VT_HD void store(unsigned short* out, long long index, float v) { out[index] = half_bits_from_float(v); }

// Output element index of (slot, channel, y, x) in an NCHW crop batch.
VT_HD long long crop_index(const CropParams& p, int slot, int c, int y, int x) {
    return ((static_cast<long long>(slot) * kChannels + c) * p.crop_height + y) * p.crop_width + x;
}

// Write crop pixel (x, y) of box n, all channels (RGB order, normalised), and its mirrored copy.
template <typename Out>
VT_HD void write_crop_pixel(const CropParams& p, Out* out, int n, int x, int y) {
    const SourcePoint src = source_point(p.inverse_warps + 6 * static_cast<long long>(n), x, y);
    for (int c = 0; c < kChannels; ++c) {
        const float level = sample_level(p.image, src, c, p.border);
        const float value = normalise(level, p.mean[c], p.scale[c]);
        store(out, crop_index(p, n, c, y, x), value);
        if (p.mirror_base >= 0) {
            store(out, crop_index(p, p.mirror_base + n, c, y, p.crop_width - 1 - x), value);
        }
    }
}

}  // namespace vitpose
