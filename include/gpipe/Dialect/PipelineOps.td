//===- PipelineOps.td - pipeline schedules in the IR ----------*- tablegen -*-===//
//
// A pipeline schedule as IR: per stage, the ordered actions it performs on
// the micro-batches of one mini-batch. Written by gpipe-pipeline, checked by
// gpipe.pipeline's verifier (sends meet their receives in order; no stage
// waits forever), executed by gpipe-run.
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_DIALECT_PIPELINEOPS_TD
#define GPIPE_DIALECT_PIPELINEOPS_TD

include "gpipe/Dialect/GPipeBase.td"
include "mlir/IR/SymbolInterfaces.td"

def GPipe_PipelineOp : GPipe_Op<"pipeline",
    [SingleBlock, NoTerminator, IsolatedFromAbove,
     DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "the schedule of a pipelined training step";
  let description = [{
    Runs the stages of `function` over `micro_batches` micro-batches: the
    region holds one `gpipe.stage_program` per stage, in stage order, each
    the ordered actions of that stage and the functions they call.
    `recompute` names the policy that chose which activations each stage
    keeps (none, full, except-last, auto). The
    verifier proves that the activations stage s sends to stage s + 1 are
    the ones s + 1 receives, in the same order (and the gradients going
    back), that each stage runs the forward and the backward of every
    micro-batch once, and that the programs run to completion when sends
    are buffered and receives wait: a deadlock is a compile error.

    Example:

    ```mlir
    gpipe.pipeline @train_step_loss attributes {micro_batches = 1 : i64, recompute = "full", schedule = "gpipe"} {
      gpipe.stage_program 0 recomputing [@train_step_loss_stage0_forward, @train_step_loss_stage0_backward] {
        gpipe.forward 0
        gpipe.send_activation 0 to 1
        gpipe.recv_gradient 0 from 1
        gpipe.recompute 0
        gpipe.backward 0
        gpipe.optimizer_update
      }
      gpipe.stage_program 1 recomputing [@train_step_loss_stage1_forward, @train_step_loss_stage1_backward] {
        gpipe.recv_activation 0 from 0
        gpipe.forward 0
        gpipe.recompute 0
        gpipe.backward 0
        gpipe.send_gradient 0 to 0
        gpipe.optimizer_update
      }
    }
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$function, I64Attr:$micro_batches,
                   StrAttr:$schedule, StrAttr:$recompute);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$function attr-dict-with-keyword $body";
  let hasRegionVerifier = 1;
}

def GPipe_StageProgramOp : GPipe_Op<"stage_program",
    [SingleBlock, NoTerminator, HasParent<"PipelineOp">]> {
  let summary = "what one pipeline stage does, in order";
  let description = [{
    The actions of stage `stage` for one mini-batch, in the order it runs
    them (see `gpipe.pipeline`), and the functions they call. A micro-batch
    with a `gpipe.recompute` action runs the `recomputing` pair: a forward
    that keeps only the stage inputs (and, under recompute=auto, the
    activations it returns marked `gpipe.kept`) and a backward that
    recomputes the rest. Any other micro-batch runs the `keeping` pair: a
    forward that also returns every activation the backward reads, and a
    backward that recomputes nothing. Each pair is
    `[forward, backward]`; a pair no micro-batch uses may be left out.

    Example:

    ```mlir
    gpipe.stage_program 1 keeping [@f_stage1_forward_keep, @f_stage1_backward_keep] {
      gpipe.recv_activation 0 from 0
      gpipe.forward 0
      gpipe.backward 0
      gpipe.send_gradient 0 to 0
      gpipe.optimizer_update
    }
    ```
  }];
  let arguments = (ins I64Attr:$stage, OptionalAttr<FlatSymbolRefArrayAttr>:$recomputing,
                   OptionalAttr<FlatSymbolRefArrayAttr>:$keeping);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $stage (`recomputing` $recomputing^)? (`keeping` $keeping^)? attr-dict-with-keyword $body
  }];
}

class GPipe_ComputeAction<string mnemonic, string what>
    : GPipe_Op<mnemonic, [HasParent<"StageProgramOp">]> {
  let summary = what # " of one micro-batch";
  let description = [{
    In a `gpipe.stage_program`: }] # what # [{ of micro-batch `micro_batch`.

    Example: `gpipe.}] # mnemonic # [{ 3`
  }];
  let arguments = (ins I64Attr:$micro_batch);
  let assemblyFormat = "$micro_batch attr-dict";
}

def GPipe_ForwardActionOp : GPipe_ComputeAction<"forward", "the stage's forward">;
def GPipe_RecomputeActionOp : GPipe_ComputeAction<"recompute",
    "the recomputation of the stage's forward before its backward">;
def GPipe_BackwardActionOp : GPipe_ComputeAction<"backward", "the stage's backward">;

class GPipe_TransferAction<string mnemonic, string what, string direction>
    : GPipe_Op<mnemonic, [HasParent<"StageProgramOp">]> {
  let summary = what;
  let description = [{
    In a `gpipe.stage_program`: }] # what # [{ of micro-batch `micro_batch`,
    }] # direction # [{ stage `peer`.

    Example: `gpipe.}] # mnemonic # " 3 " # direction # [{ 1`
  }];
  let arguments = (ins I64Attr:$micro_batch, I64Attr:$peer);
  let assemblyFormat = "$micro_batch `" # direction # "` $peer attr-dict";
}

def GPipe_SendActivationOp : GPipe_TransferAction<"send_activation",
    "send the stage's activations", "to">;
def GPipe_RecvActivationOp : GPipe_TransferAction<"recv_activation",
    "receive the stage's input activations", "from">;
def GPipe_SendGradientOp : GPipe_TransferAction<"send_gradient",
    "send the gradients of the stage's inputs", "to">;
def GPipe_RecvGradientOp : GPipe_TransferAction<"recv_gradient",
    "receive the gradients of the stage's outputs", "from">;

def GPipe_OptimizerUpdateOp : GPipe_Op<"optimizer_update", [HasParent<"StageProgramOp">]> {
  let summary = "the stage's optimizer update, once per mini-batch";
  let description = [{
    In a `gpipe.stage_program`: apply the optimizer to the stage's
    parameters with the gradients accumulated over the micro-batches.

    Example: `gpipe.optimizer_update`
  }];
  let assemblyFormat = "attr-dict";
}

#endif // GPIPE_DIALECT_PIPELINEOPS_TD
