// Small shared pieces of the host-side kernel tests: a deterministic test image and a CropParams builder.
#pragma once

#include <cstdint>
#include <vector>

#include "crop_math.cuh"

namespace vitpose_test {

// A (height, width, 3) uint8 image with smooth gradients, sharp edges and pseudo-random texture.
inline std::vector<unsigned char> test_image(int height, int width, std::uint32_t seed) {
    std::vector<unsigned char> image(static_cast<size_t>(height) * width * vitpose::kChannels);
    std::uint32_t state = seed;
    for (int y = 0; y < height; ++y) {
        for (int x = 0; x < width; ++x) {
            for (int c = 0; c < vitpose::kChannels; ++c) {
                state = state * 1664525u + 1013904223u;  // Numerical Recipes LCG
                const int noise = static_cast<int>(state >> 27);  // 0..31
                const int edge = ((x / 7 + y / 5 + c) % 2) * 120;
                const int ramp = (x * 3 + y * 2 + c * 40) % 100;
                image[(static_cast<size_t>(y) * width + x) * vitpose::kChannels + c] =
                    static_cast<unsigned char>(edge + ramp + noise);
            }
        }
    }
    return image;
}

// CropParams over a contiguous HWC image, with mean 0 and scale 1 (outputs are raw levels).
inline vitpose::CropParams raw_level_params(const std::vector<unsigned char>& image, int height, int width,
                                            const std::vector<float>& inverse_warps, int crop_height,
                                            int crop_width) {
    vitpose::CropParams p{};
    p.image = vitpose::ImageView{image.data(), height, width, static_cast<long long>(width) * vitpose::kChannels,
                                 vitpose::kChannels, 1, 0};
    p.inverse_warps = inverse_warps.data();
    p.num_boxes = static_cast<int>(inverse_warps.size() / 6);
    p.crop_height = crop_height;
    p.crop_width = crop_width;
    for (int c = 0; c < vitpose::kChannels; ++c) {
        p.mean[c] = 0.0f;
        p.scale[c] = 1.0f;
    }
    p.border = 0.0f;
    p.mirror_base = -1;
    return p;
}

// Run the kernel body on the host over every (box, y, x): what the CUDA grid does on the device.
template <typename Out>
std::vector<Out> host_crops(const vitpose::CropParams& p) {
    const int slots = p.mirror_base >= 0 ? p.mirror_base + p.num_boxes : p.num_boxes;
    std::vector<Out> out(static_cast<size_t>(slots) * vitpose::kChannels * p.crop_height * p.crop_width);
    for (int n = 0; n < p.num_boxes; ++n) {
        for (int y = 0; y < p.crop_height; ++y) {
            for (int x = 0; x < p.crop_width; ++x) {
                vitpose::write_crop_pixel(p, out.data(), n, x, y);
            }
        }
    }
    return out;
}

}  // namespace vitpose_test
