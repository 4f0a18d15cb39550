# Script mode (cmake -P): name the built fatbin by the digest of the kernel sources and copy it.
#
#   -DKERNEL_DIR=<dir with *.cu / *.cuh>  -DFATBIN=<built fatbin>  -DDESTINATIONS=<dir>[|<dir>...]
#
# The digest is SHA-256 over lines "<file name>:<sha256 of file>\n" for the .cu/.cuh files in
# name order, first 16 hex digits; vitpose_trt/runtime/cuda_crops.py computes the same digest and
# loads only crops-<digest>.fatbin, so a fatbin built from other sources is never used.
cmake_minimum_required(VERSION 3.21)

set(DIGEST_LENGTH 16)
file(GLOB sources "${KERNEL_DIR}/*.cu" "${KERNEL_DIR}/*.cuh")
list(SORT sources)
set(lines "")
foreach(source IN LISTS sources)
  get_filename_component(name "${source}" NAME)
  file(SHA256 "${source}" file_hash)
  string(APPEND lines "${name}:${file_hash}\n")
endforeach()
string(SHA256 digest "${lines}")
string(SUBSTRING "${digest}" 0 ${DIGEST_LENGTH} digest)

string(REPLACE "|" ";" destinations "${DESTINATIONS}")
foreach(destination IN LISTS destinations)
  file(GLOB stale "${destination}/crops-*.fatbin")
  if(stale)
    file(REMOVE ${stale})
  endif()
  file(COPY_FILE "${FATBIN}" "${destination}/crops-${digest}.fatbin")
  message(STATUS "crop kernels: ${destination}/crops-${digest}.fatbin")
endforeach()
