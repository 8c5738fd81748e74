//===- Cpp.h - the pipelined training step as a C++ program -----*- C++ -*-===//
//
// `gpipe-translate --emit-cpp`: turns a module that gpipe-pipeline has
// scheduled into one self-contained C++17 source. Each function the program
// runs (the stage functions the gpipe.pipeline op names, the update
// function, the loss function) becomes a `gp::Function` that calls the
// runtime's gp_cpu_* kernels on tensors at the static offsets
// gpipe-plan-memory chose in the function's arena; a `gp::Program` describes
// the parameters, the functions' wiring and the schedule, and `main` hands
// it to `gp::trainerMain` (python-free-runtime/include/gpipe/runtime/
// gp_program.h is the contract).
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_TARGET_CPP_H
#define GPIPE_TARGET_CPP_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>
#include <string>

namespace mlir::gpipe {

struct CppEmitOptions {
  /// Computes chains of f32 elementwise ops (same shape, results used once)
  /// in one loop instead of one kernel call per op.
  bool fuseElementwise = true;
  /// The inference-mode model function (gpipe-build-training's
  /// `eval-function`): when the module has it, the program includes it as
  /// gp::Program::evalFunction. Empty: none.
  std::string evalFunction = "eval";
  /// Builds the program with op timing: each function (but the optimizer
  /// update) times its kernel calls and fused loops into `ctx.profile` when
  /// the trainer sets one (`--profile`), and lists them, with their ONNX
  /// nodes and phases (forward, backward, recomputed forward), in its
  /// gp::FunctionSpec::ops.
  bool timeOps = false;
  /// What the source is for: C++17 on the gp_cpu_* kernels (run by
  /// gp::trainerMain), or CUDA C++ on the gp_cuda_* kernels, with each
  /// fused loop a generated kernel, for nvcc (run by gp::cudaTrainerMain).
  enum class Target { Cpu, Cuda } target = Target::Cpu;
  /// CUDA: how matrix products and convolutions compute ("fp32", "tf32" or
  /// "bf16": bf16 operands, f32 accumulation, f32 master weights).
  std::string precision = "fp32";
};

/// The gp_cuda_precision value of a --precision name; nullopt for an
/// unknown one.
std::optional<int> cudaPrecision(llvm::StringRef name);

/// Plans the memory of every function the pipelined program runs
/// (gpipe-plan-memory), then writes the program's C++ source to `os`.
/// Fails with a diagnostic on the offending op (an op or type the emitter
/// cannot handle, a module without a gpipe.pipeline op, ...); nothing is
/// written then.
LogicalResult emitCpp(ModuleOp module, llvm::raw_ostream &os, const CppEmitOptions &options = {});

/// The preparation alone: checks that every function the program runs has
/// static shapes and element types the runtime knows, and runs
/// gpipe-plan-memory on them.
LogicalResult prepareForCpp(ModuleOp module, const CppEmitOptions &options = {});

/// The emission alone, on a module prepareForCpp has prepared; reads the
/// IR and changes nothing.
LogicalResult translateToCpp(ModuleOp module, llvm::raw_ostream &os,
                             const CppEmitOptions &options = {});

} // namespace mlir::gpipe

#endif // GPIPE_TARGET_CPP_H
