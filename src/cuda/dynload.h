// Run-time loading of the CUDA libraries singa calls besides the runtime (cuBLAS, cuDNN,
// NCCL). They come as the nvidia-* wheels (the `cuda` extra), which install them under
// site-packages/nvidia/<part>/lib; singa/device.py hands those folders to
// SetCudaLibraryDirs when it is imported. Loading happens when a GPU first needs a
// library, so `import singa` works without them and without a driver.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace singa {
namespace cuda {

// Folders searched before the dynamic linker's own path.
void SetCudaLibraryDirs(const std::vector<std::string>& dirs);
std::vector<std::string> CudaLibraryDirs();

// dlopen of the first of `sonames` found in those folders, then on the linker's path.
// DeviceError naming `what` ("cuBLAS"), every file tried and the wheel that provides it
// (`wheel`, e.g. "nvidia-cublas") when none loads. The handle is never closed.
void* LoadCudaLibrary(const char* what, const std::vector<std::string>& sonames,
                      const char* wheel);
// The libraries above as (name, the file loaded or why none loaded), loading each: what
// singa_wrap.CudaLibraries() reports, so a user can see what a GPU would find.
struct CudaLibrary {
  const char* what;
  std::vector<std::string> sonames;
  const char* wheel;
};
const std::vector<CudaLibrary>& KnownCudaLibraries();  // cuBLAS, cuDNN, NCCL
std::vector<std::pair<std::string, std::string>> CudaLibraryReport();

// dlsym; DeviceError naming the symbol and the library when it is missing.
void* CudaSymbol(void* library, const char* symbol, const char* what);

// Loads `symbol` of `library` as a function pointer of type Fn.
template <typename Fn>
Fn LoadFn(void* library, const char* symbol, const char* what) {
  return reinterpret_cast<Fn>(CudaSymbol(library, symbol, what));
}

}  // namespace cuda
}  // namespace singa
