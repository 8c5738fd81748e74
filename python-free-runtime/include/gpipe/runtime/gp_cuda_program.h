//===- gp_cuda_program.h - what generated CUDA programs call -----*- C++ -*-===//
//
// The helpers `gpipe-translate --emit-cuda` code uses beside the gp_cuda_*
// kernels: the stage's CUDA context from its gp::FunctionContext, device
// tensors for returned values, and the failure messages. Defined in
// libgpipe_trainer_cuda, with gp::cudaTrainerMain.
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_RUNTIME_GP_CUDA_PROGRAM_H
#define GPIPE_RUNTIME_GP_CUDA_PROGRAM_H

#include "gpipe/runtime/gp_cuda.h"
#include "gpipe/runtime/gp_program.h"

namespace gp {

/// A tensor in memory of CUDA device `device` (from the caching
/// allocator); empty with gp_last_error set when the device is out of
/// memory.
Tensor allocateOnDevice(int device, gp_dtype dtype, int32_t rank, const int64_t *dims);
/// allocateOnDevice on the context's device for work on its stream (a
/// generated function's result): gp_cuda_alloc_on.
Tensor allocateOnStream(gp_cuda_ctx *cuda, gp_dtype dtype, int32_t rank, const int64_t *dims);

/// The CUDA context a generated function runs in; nullptr with ctx.error
/// set when the trainer gave it none.
gp_cuda_ctx *cudaContext(FunctionContext &ctx);

/// `result`: a new device tensor with `value`'s elements, copied on the
/// context's stream (complete once the function synchronizes).
bool cudaCopyOut(FunctionContext &ctx, gp_cuda_ctx *cuda, const gp_tensor &value,
                 Tensor &result);

} // namespace gp

#endif // GPIPE_RUNTIME_GP_CUDA_PROGRAM_H
