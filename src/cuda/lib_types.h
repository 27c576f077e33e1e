// The opaque handle types of cuBLAS and cuDNN, declared here so that the CUDA device
// builds without their headers (they come only with the nvidia-* wheels, which pip's
// isolated build environment does not see). The names and pointer types are those of
// the libraries' own headers; the functions are loaded at run time (cuda/dynload.h).
#pragma once

struct cublasContext;
typedef struct cublasContext* cublasHandle_t;
struct cudnnContext;
typedef struct cudnnContext* cudnnHandle_t;
