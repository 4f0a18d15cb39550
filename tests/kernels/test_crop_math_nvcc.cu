// The host tests of crop_math.cuh, compiled by nvcc: the header's __host__ __device__ path.
#include "test_crop_math.cpp"
