/* Driver entry points GPU tests need beyond the library (streams, graph capture,
 * the current context, a bare launch), dlsym'd from
 * libcuda so the tests, like the library, link no CUDA library. */
#ifndef QG_GPU_CUDA_H
#define QG_GPU_CUDA_H

#include <cuda.h>

typedef struct {
    CUresult (*StreamCreate)(CUstream *, unsigned);
    CUresult (*StreamDestroy)(CUstream);
    CUresult (*StreamSynchronize)(CUstream);
    CUresult (*StreamBeginCapture)(CUstream, CUstreamCaptureMode);
    CUresult (*StreamEndCapture)(CUstream, CUgraph *);
    CUresult (*GraphInstantiate)(CUgraphExec *, CUgraph, unsigned long long);
    CUresult (*GraphLaunch)(CUgraphExec, CUstream);
    CUresult (*GraphExecDestroy)(CUgraphExec);
    CUresult (*GraphDestroy)(CUgraph);
    CUresult (*CtxGetCurrent)(CUcontext *);
    CUresult (*CtxSetCurrent)(CUcontext);
    CUresult (*ModuleLoadData)(CUmodule *, const void *);
    CUresult (*ModuleGetFunction)(CUfunction *, CUmodule, const char *);
    CUresult (*ModuleUnload)(CUmodule);
    CUresult (*LaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                             unsigned, CUstream, void **, void **);
} gt_cuda_api;

extern gt_cuda_api cu;

/* Fill `cu` from libcuda.so.1; 0 if the library or a symbol is missing. */
int gt_load_cuda(void);

/* Record a check that a driver call succeeded. */
#define CU(call) QT_CHECK((call) == CUDA_SUCCESS, "%s failed", #call)

#endif
