// The crop kernel: N warped, normalised crops (and their mirrored copies) from one 8-bit HWC image,
// written straight into an NCHW fp32 or fp16 batch (the engine's input buffer).
//
// One thread per crop pixel, all three channels; grid = (ceil(W / block.x), ceil(H / block.y), N).
// Built into a fatbin by CMakeLists.txt, or compiled at run time with NVRTC by cuda_crops.py.
#include "crop_math.cuh"

namespace vitpose {

template <typename Out>
__device__ __forceinline__ void crops_body(const unsigned char* image, int height, int width, long long row_stride,
                                           long long col_stride, long long channel_stride, int bgr,
                                           const float* inverse_warps, int num_boxes, Out* out, int crop_height,
                                           int crop_width, const float* mean_scale, float border, int mirror_base) {
    const int x = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = blockIdx.y * blockDim.y + threadIdx.y;
    const int n = blockIdx.z;
    if (x >= crop_width || y >= crop_height || n >= num_boxes) {
        return;
    }
    CropParams p;
    p.image = ImageView{image, height, width, row_stride, col_stride, channel_stride, bgr};
    p.inverse_warps = inverse_warps;
    p.num_boxes = num_boxes;
    p.crop_height = crop_height;
    p.crop_width = crop_width;
    for (int c = 0; c < kChannels; ++c) {
        p.mean[c] = mean_scale[c];
        p.scale[c] = mean_scale[kChannels + c];
    }
    p.border = border;
    p.mirror_base = mirror_base;
    write_crop_pixel(p, out, n, x, y);
}

}  // namespace vitpose

// Arguments (both entry points):
//   image            uint8, element (y, x, c) at y * row_stride + x * col_stride + c * channel_stride
//   bgr              1 if channel 0 of the image is blue, 0 if red
//   inverse_warps    (num_boxes, 6) float32, crop px -> image px
//   out              (slots, 3, crop_height, crop_width), fp32 or fp16 (as raw 16-bit words)
//   mean_scale       6 float32: mean R, G, B then 1 / std R, G, B (0-255 values)
//   border           value of pixels outside the image (0-255)
//   mirror_base      slot of box 0's mirrored copy; < 0 writes no mirrored copies
extern "C" __global__ void vitpose_crops_f32(const unsigned char* image, int height, int width, long long row_stride,
                                             long long col_stride, long long channel_stride, int bgr,
                                             const float* inverse_warps, int num_boxes, float* out,
                                             int crop_height, int crop_width, const float* mean_scale, float border,
                                             int mirror_base) {
    vitpose::crops_body(image, height, width, row_stride, col_stride, channel_stride, bgr, inverse_warps, num_boxes,
                        out, crop_height, crop_width, mean_scale, border, mirror_base);
}

extern "C" __global__ void vitpose_crops_f16(const unsigned char* image, int height, int width, long long row_stride,
                                             long long col_stride, long long channel_stride, int bgr,
                                             const float* inverse_warps, int num_boxes, unsigned short* out,
                                             int crop_height, int crop_width, const float* mean_scale, float border,
                                             int mirror_base) {
    vitpose::crops_body(image, height, width, row_stride, col_stride, channel_stride, bgr, inverse_warps, num_boxes,
                        out, crop_height, crop_width, mean_scale, border, mirror_base);
}
