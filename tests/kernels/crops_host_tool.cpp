// Runs the crop kernel body on the host over raw files, so pytest can compare it with the cv2 path.
//
// Usage: crops_host_tool IMAGE HEIGHT WIDTH BGR WARPS NUM_BOXES MIRROR DTYPE CROP_H CROP_W MEAN_SCALE BORDER OUT
//   IMAGE     raw (HEIGHT, WIDTH, 3) uint8, C order
//   WARPS     raw (NUM_BOXES, 6) float32 inverse warps (crop px -> image px)
//   MIRROR    1 writes mirrored copies after the NUM_BOXES crops
//   DTYPE     f32 or f16 (raw IEEE half bits)
//   MEAN_SCALE raw 6 float32: mean R, G, B then 1 / std R, G, B
//   OUT       raw (slots, 3, CROP_H, CROP_W) output
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "crop_math.cuh"
#include "crop_test_support.h"

namespace {

template <typename T>
bool read_raw(const char* path, std::vector<T>& data) {
    FILE* f = std::fopen(path, "rb");
    if (!f) return false;
    const size_t got = std::fread(data.data(), sizeof(T), data.size(), f);
    std::fclose(f);
    return got == data.size();
}

template <typename T>
bool write_raw(const char* path, const std::vector<T>& data) {
    FILE* f = std::fopen(path, "wb");
    if (!f) return false;
    const size_t put = std::fwrite(data.data(), sizeof(T), data.size(), f);
    return std::fclose(f) == 0 && put == data.size();
}

}  // namespace

int main(int argc, char** argv) {
    constexpr int kArgs = 14;
    if (argc != kArgs) {
        std::fprintf(stderr, "usage: %s IMAGE HEIGHT WIDTH BGR WARPS NUM_BOXES MIRROR DTYPE CROP_H CROP_W MEAN_SCALE BORDER OUT\n",
                     argv[0]);
        return 2;
    }
    const int height = std::atoi(argv[2]), width = std::atoi(argv[3]), bgr = std::atoi(argv[4]);
    const int num_boxes = std::atoi(argv[6]), mirror = std::atoi(argv[7]);
    const std::string dtype = argv[8];
    const int crop_h = std::atoi(argv[9]), crop_w = std::atoi(argv[10]);
    std::vector<unsigned char> image(static_cast<size_t>(height) * width * vitpose::kChannels);
    std::vector<float> warps(static_cast<size_t>(num_boxes) * 6);
    std::vector<float> mean_scale(2 * vitpose::kChannels);
    if (!read_raw(argv[1], image) || !read_raw(argv[5], warps) || !read_raw(argv[11], mean_scale)) {
        std::fprintf(stderr, "cannot read the input files\n");
        return 1;
    }
    vitpose::CropParams p = vitpose_test::raw_level_params(image, height, width, warps, crop_h, crop_w);
    p.image.bgr = bgr;
    for (int c = 0; c < vitpose::kChannels; ++c) {
        p.mean[c] = mean_scale[c];
        p.scale[c] = mean_scale[vitpose::kChannels + c];
    }
    p.border = static_cast<float>(std::atof(argv[12]));
    p.mirror_base = mirror ? num_boxes : -1;
    bool ok;
    if (dtype == "f32") {
        ok = write_raw(argv[13], vitpose_test::host_crops<float>(p));
    } else if (dtype == "f16") {
        ok = write_raw(argv[13], vitpose_test::host_crops<unsigned short>(p));
    } else {
        std::fprintf(stderr, "DTYPE must be f32 or f16\n");
        return 2;
    }
    if (!ok) std::fprintf(stderr, "cannot write %s\n", argv[13]);
    return ok ? 0 : 1;
}
