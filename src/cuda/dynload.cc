#include "cuda/dynload.h"

#include <dlfcn.h>
#include <link.h>

#include <mutex>

#include "core/common.h"

namespace singa {
namespace cuda {

namespace {
std::mutex& DirsMutex() {
  static std::mutex mu;
  return mu;
}
std::vector<std::string>& Dirs() {
  static std::vector<std::string> dirs;
  return dirs;
}
}  // namespace

void SetCudaLibraryDirs(const std::vector<std::string>& dirs) {
  std::lock_guard<std::mutex> lock(DirsMutex());
  Dirs() = dirs;
}

std::vector<std::string> CudaLibraryDirs() {
  std::lock_guard<std::mutex> lock(DirsMutex());
  return Dirs();
}

void* LoadCudaLibrary(const char* what, const std::vector<std::string>& sonames,
                      const char* wheel) {
  std::string tried;
  auto attempt = [&](const std::string& path) -> void* {
    // RTLD_GLOBAL: cuDNN's front library dlopens its sub-libraries, which must resolve
    // the symbols of the ones loaded before them.
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (h == nullptr) {
      const char* err = dlerror();
      tried += Msg("\n  ", path, ": ", err ? err : "not loadable");
    }
    return h;
  };
  for (const std::string& dir : CudaLibraryDirs())
    for (const std::string& so : sonames)
      if (void* h = attempt(dir + "/" + so)) return h;
  for (const std::string& so : sonames)
    if (void* h = attempt(so)) return h;
  throw DeviceError(Msg(what, " could not be loaded; it comes with the ", wheel,
                        " wheel (pip install \"singa[cuda]\" installs it). Tried:", tried));
}

const std::vector<CudaLibrary>& KnownCudaLibraries() {
  static const std::vector<CudaLibrary> libs = {
      {"cuBLAS", {"libcublas.so.13"}, "nvidia-cublas"},
      {"cuDNN", {"libcudnn.so.9"}, "nvidia-cudnn-cu13"},
      {"NCCL", {"libnccl.so.2"}, "nvidia-nccl-cu13"},
  };
  return libs;
}

std::vector<std::pair<std::string, std::string>> CudaLibraryReport() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const CudaLibrary& lib : KnownCudaLibraries()) {
    try {
      void* h = LoadCudaLibrary(lib.what, lib.sonames, lib.wheel);
      link_map* map = nullptr;
      const bool named = dlinfo(h, RTLD_DI_LINKMAP, &map) == 0 && map != nullptr && map->l_name;
      out.emplace_back(lib.what, named ? std::string(map->l_name) : lib.sonames.front());
    } catch (const DeviceError& e) {
      out.emplace_back(lib.what, Msg("not loaded: ", e.what()));
    }
  }
  return out;
}

void* CudaSymbol(void* library, const char* symbol, const char* what) {
  dlerror();
  void* p = dlsym(library, symbol);
  if (p == nullptr)
    throw DeviceError(Msg(what, " has no symbol ", symbol,
                          ": the installed library is older than singa needs"));
  return p;
}

}  // namespace cuda
}  // namespace singa
