#include "gpu_cuda.h"

#include <dlfcn.h>

gt_cuda_api cu;

int gt_load_cuda(void) {
    void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
    if (!h) return 0;
#define SYM(f, name)                  \
    *(void **)&cu.f = dlsym(h, name); \
    if (!cu.f) return 0;
    SYM(StreamCreate, "cuStreamCreate")
    SYM(StreamDestroy, "cuStreamDestroy_v2")
    SYM(StreamSynchronize, "cuStreamSynchronize")
    SYM(StreamBeginCapture, "cuStreamBeginCapture_v2")
    SYM(StreamEndCapture, "cuStreamEndCapture")
    SYM(GraphInstantiate, "cuGraphInstantiateWithFlags")
    SYM(GraphLaunch, "cuGraphLaunch")
    SYM(GraphExecDestroy, "cuGraphExecDestroy")
    SYM(GraphDestroy, "cuGraphDestroy")
    SYM(CtxGetCurrent, "cuCtxGetCurrent")
    SYM(CtxSetCurrent, "cuCtxSetCurrent")
    SYM(ModuleLoadData, "cuModuleLoadData")
    SYM(ModuleGetFunction, "cuModuleGetFunction")
    SYM(ModuleUnload, "cuModuleUnload")
    SYM(LaunchKernel, "cuLaunchKernel")
#undef SYM
    return 1;
}
