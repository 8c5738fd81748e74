//===- Passes.td - gpipe analysis and rewriting passes ---------*- tablegen -*-===//

#ifndef GPIPE_TRANSFORMS_PASSES_TD
#define GPIPE_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def Summarize : Pass<"gpipe-summarize", "mlir::ModuleOp"> {
  let summary = "Print a summary of a model: ops by kind, parameters, inputs";
  let description = [{
    Reports, for every function in the module, its inputs and outputs and how
    many ops of each kind it holds, and for the module the number of
    parameters, their elements and their bytes. The IR is left unchanged, so
    the pass can sit anywhere in a pipeline. The summary goes to standard
    error unless `output` names a file (`-` is standard output).

    Example: `gpipe-opt --gpipe-summarize model.mlir -o /dev/null`
  }];
  let options = [
    Option<"output", "output", "std::string", /*default=*/"\"\"",
           "Where to write the summary (empty: stderr, '-': stdout)">,
  ];
}

def FoldLinear : Pass<"gpipe-fold-linear", "mlir::ModuleOp"> {
  let summary = "Make each linear layer on rows one GEMM: weight transpose and bias included";
  let description = [{
    PyTorch exports `nn.Linear` on an input of rank 3 or more as
    `Add(MatMul(x, Transpose(W)), b)`. Every `gpipe.matmul` (f32, static
    shapes) of `x [..., K]` by a rank-2 matrix becomes one `gpipe.gemm` over
    `x` seen as rows `[rows, K]`:

    - when the matrix is the transpose of `w`, the GEMM reads `w` with
      `trans_b = true`, and the transpose is erased when nothing else
      reads it;
    - when the product's only use adds a bias row (`[N]` or `[1, ..., N]`),
      the bias becomes the GEMM's `C` with `beta = 1` and the add goes
      (on CUDA, cuBLASLt's bias epilogue);
    - the result is reshaped back to the product's shape.

    A product of two matrices with neither is left alone. The forward then
    copies no transposed weight and makes no pass for the bias, the
    gradients (`gpipe.gemm`'s rule) are GEMMs with the transposes in their
    flags, and `gpipe-plan-memory` makes the reshapes views. Values are
    unchanged up to the GEMM's summation order.

    `gpipe-compile` and `gpipe-run --train-steps` run it before
    `gpipe-build-training`.

    Example: `gpipe-opt --gpipe-fold-linear model.mlir`
  }];
}

def BuildTraining : Pass<"gpipe-build-training", "mlir::ModuleOp"> {
  let summary = "Build the training step: forward, loss, backward, optimizer update";
  let description = [{
    Adds `@<step-function>` (default `@train_step`) beside the model function:
    the forward pass, the loss against a new `labels` argument, the gradients
    of every trainable parameter (reverse-mode, through each op's gradient
    rule), optional global-norm clipping, and the optimizer's update, stored
    with `gpipe.set_param`. Optimizer state (momentum buffers, Adam moments,
    the step count) becomes `zero_init` parameters. Batch norms in training
    mode also store their updated running statistics. The step returns the
    loss followed by the model's outputs.

    Trainable parameters are the float parameters the loss depends on, less
    those `frozen` names; they are marked `trainable`. With `eval-function`
    set, an inference-mode copy of the model function is added too (batch
    norm on running statistics, dropout off).

    Losses: `cross-entropy` (softmax over the `class-axis` dimension, 1 by
    default, against i64 class labels of the other dimensions), `nll` (the model outputs log-probabilities), `mse`, `l1`,
    `bce-with-logits` (labels of the output's type), and `output` (the model's
    first output already is the scalar loss; no labels). All reduce with the
    mean. Optimizers follow PyTorch's: `sgd` and `momentum` add
    `weight-decay * p` to the gradient, `adam` too, `adamw` decays the
    parameter directly.

    Example: `gpipe-opt --gpipe-build-training="loss=cross-entropy optimizer=adamw lr=1e-3" model.mlir`
  }];
  let options = [
    Option<"function", "function", "std::string", /*default=*/"\"main\"",
           "The model function">,
    Option<"stepFunction", "step-function", "std::string", /*default=*/"\"train_step\"",
           "Name of the training-step function to create">,
    Option<"evalFunction", "eval-function", "std::string", /*default=*/"\"\"",
           "Also create an inference-mode copy of the model under this name">,
    Option<"loss", "loss", "std::string", /*default=*/"\"cross-entropy\"",
           "cross-entropy | nll | mse | l1 | bce-with-logits | output">,
    Option<"labelName", "label", "std::string", /*default=*/"\"labels\"",
           "Name of the labels argument">,
    Option<"classAxis", "class-axis", "int64_t", /*default=*/"1",
           "The class dimension of cross-entropy/nll scores (-1: the last, as for "
           "a language model's [batch, seq, vocab] logits)">,
    Option<"optimizer", "optimizer", "std::string", /*default=*/"\"sgd\"",
           "sgd | momentum | adam | adamw">,
    Option<"lr", "lr", "double", /*default=*/"0.01", "Learning rate">,
    Option<"momentum", "momentum", "double", /*default=*/"0.9", "Momentum (momentum optimizer)">,
    Option<"beta1", "beta1", "double", /*default=*/"0.9", "Adam's first-moment decay">,
    Option<"beta2", "beta2", "double", /*default=*/"0.999", "Adam's second-moment decay">,
    Option<"eps", "eps", "double", /*default=*/"1e-8", "Adam's epsilon">,
    Option<"weightDecay", "weight-decay", "double", /*default=*/"0.0", "Weight decay">,
    Option<"gradClip", "grad-clip", "double", /*default=*/"0.0",
           "Clip the gradients' global L2 norm to this value (0: off)">,
    ListOption<"frozen", "frozen", "std::string", "Parameters not to train">,
    Option<"pipelineFunctions", "pipeline-functions", "bool", /*default=*/"false",
           "Also create @<step>_loss (forward and loss) and @<step>_update (the "
           "update from given gradients) for pipelined training, and "
           "@<step>_loss_weight (a micro-batch's label weight) when the loss is a "
           "mean over kept (ignore_index) or weighted labels">,
    Option<"batchNorm", "batch-norm", "std::string", /*default=*/"\"micro-batch\"",
           "With pipeline-functions, batch norm's running statistics: micro-batch "
           "(updated per micro-batch, as GPipe) | deferred (once per mini-batch, "
           "from the whole mini-batch's statistics)">,
  ];
}

def CostReport : Pass<"gpipe-cost-report", "mlir::ModuleOp"> {
  let summary = "Print the cost model of every op and layer on a device";
  let description = [{
    Runs the cost model (an MLIR analysis) on the model function and prints,
    per op and per layer (ops grouped by their ONNX node name up to the last
    `/`), forward and backward FLOPs, bytes read and written, activation,
    parameter and optimizer-state bytes, and the roofline (or measured, with
    `profile`) forward and backward times on `device`. The IR is unchanged.

    Example: `gpipe-opt --gpipe-cost-report="device=devices/h100-sxm.json format=json" model.mlir -o /dev/null`
  }];
  let options = [
    Option<"device", "device", "std::string", /*default=*/"\"\"", "Device description (JSON)">,
    Option<"function", "function", "std::string", /*default=*/"\"main\"", "The model function">,
    Option<"format", "format", "std::string", /*default=*/"\"table\"", "table | json">,
    Option<"output", "output", "std::string", /*default=*/"\"-\"",
           "Where to write the report ('-': stdout)">,
    Option<"profile", "profile", "std::string", /*default=*/"\"\"",
           "Measured op times replacing the estimates (JSON, see docs/partition.md)">,
    Option<"optimizer", "optimizer", "std::string", /*default=*/"\"adam\"",
           "Optimizer whose state is counted: sgd | momentum | adam | adamw">,
  ];
}

def Partition : Pass<"gpipe-partition", "mlir::ModuleOp"> {
  let summary = "Split the model into K pipeline stages, optimally for the op order";
  let description = [{
    Assigns every op of the model function to one of `stages` contiguous
    pipeline stages (the ops in program order, a topological order) and
    records the result in the IR: a `gpipe.stage` attribute on every op and a
    `gpipe.partition` dictionary on the function (stages, devices, schedule,
    micro-batches, per-stage times and memory, the bottleneck).

    With `balance=time` (the default) the partition minimizes the slowest
    stage's time per mini-batch: its forward, backward, (with `recompute`)
    recomputed forward and optimizer update, from the cost model on its
    device, plus
    sending and receiving every tensor that crosses its boundaries, forward
    and backward, in `micro-batches` messages. Every stage's memory must fit
    `memory-limit` (default: its device's capacity): its parameters with
    their gradients and optimizer state, and the activations it keeps for the
    micro-batches in flight under `schedule` (all M for GPipe's fill-drain,
    K - s for 1F1B on stage s), only the stage inputs with `recompute`. The
    search is exact (a dynamic program over cut positions). `balance=params`,
    `uniform` and `torchgpipe` apply DeepSpeed's and torchgpipe's rules
    instead, for comparison. `split-points` names ONNX nodes that must begin
    a stage.

    Example: `gpipe-opt --gpipe-partition="stages=4 devices=devices/h100-sxm.json micro-batches=8 report=-"`
  }];
  let options = [
    Option<"stages", "stages", "int64_t", /*default=*/"2", "Number of pipeline stages (K)">,
    ListOption<"devices", "devices", "std::string",
               "Device files: one for all stages, or one per stage">,
    Option<"balance", "balance", "std::string", /*default=*/"\"time\"",
           "time | params | uniform | torchgpipe">,
    ListOption<"splitPoints", "split-points", "std::string",
               "ONNX node names that must begin a stage">,
    Option<"memoryLimit", "memory-limit", "double", /*default=*/"0",
           "Bytes of memory per stage (0: the device's capacity)">,
    Option<"microBatches", "micro-batches", "int64_t", /*default=*/"1",
           "Micro-batches per mini-batch (M)">,
    Option<"schedule", "schedule", "std::string", /*default=*/"\"gpipe\"", "gpipe | 1f1b">,
    Option<"recompute", "recompute", "bool", /*default=*/"true",
           "Keep only stage inputs and recompute activations in the backward pass">,
    Option<"optimizer", "optimizer", "std::string", /*default=*/"\"adam\"",
           "Optimizer whose state counts as memory: sgd | momentum | adam | adamw">,
    Option<"profile", "profile", "std::string", /*default=*/"\"\"",
           "Measured op times replacing the estimates (JSON)">,
    Option<"function", "function", "std::string", /*default=*/"\"main\"", "The model function">,
    Option<"report", "report", "std::string", /*default=*/"\"\"",
           "Write the partition report here ('-': stdout)">,
  ];
}

def PartitionReport : Pass<"gpipe-partition-report", "mlir::ModuleOp"> {
  let summary = "Print the pipeline partition recorded in the IR";
  let description = [{
    Reads the partition `gpipe-partition` recorded (the `gpipe.partition`
    dictionary and every op's `gpipe.stage`) and prints, per stage, its ops
    (count, first and last ONNX node), parameters, FLOPs, estimated time and
    memory, then the bottleneck against the lower bound
    max(total / K, largest op) and their ratio (the imbalance).

    Example: `gpipe-opt --gpipe-partition="stages=4 devices=devices/h100-sxm.json" --gpipe-partition-report model.mlir`
  }];
  let options = [
    Option<"function", "function", "std::string", /*default=*/"\"main\"", "The model function">,
    Option<"output", "output", "std::string", /*default=*/"\"-\"",
           "Where to write the report ('-': stdout)">,
  ];
}

def OutlineStages : Pass<"gpipe-outline-stages", "mlir::ModuleOp"> {
  let summary = "Outline each pipeline stage into a forward and a backward function";
  let description = [{
    The first phase of pipelining. For a function partitioned by
    `gpipe-partition` (every op has `gpipe.stage`), adds per stage `s`:

    - `@<function>_stage<s>_forward`: the stage's ops, from the values it
      reads (function arguments and outputs of earlier stages, each argument
      marked `gpipe.source = array<i64: stage, index>`, stage -1 for a
      function argument) to the values later stages or the return read
      (`gpipe.returns` lists the return positions of a returned one). A
      value that skips stages goes straight from its producer to its
      consumer.
    - `@<function>_stage<s>_backward`: the same inputs followed by the
      gradient of every float output (`gpipe.grad_of_output`); it recomputes
      the stage's forward and returns the gradients of its float inputs from
      earlier stages (`gpipe.grad_of`, zero when an input does not reach the
      outputs) and of its parameters (`gpipe.param`): the trainable ones if
      the module marks any, else every float parameter. A parameter read on
      several stages (tied weights) gets a gradient from each.

    The function itself is left as it is. Example:
    `gpipe-opt --gpipe-partition="stages=2 devices=devices/h100-sxm.json" --gpipe-outline-stages`
  }];
  let options = [
    Option<"function", "function", "std::string", /*default=*/"\"main\"",
           "The partitioned function">,
  ];
}

def Pipeline : Pass<"gpipe-pipeline", "mlir::ModuleOp"> {
  let summary = "Write the micro-batch schedule of a partitioned function into the IR";
  let description = [{
    For a function partitioned by `gpipe-partition`, adds a `gpipe.pipeline`
    op: per stage, the ordered actions of one mini-batch split into
    `micro-batches` micro-batches under `schedule` (GPipe's fill-drain or
    1F1B): receive the input activations, forward, send them on; receive the
    output gradients, recompute, backward, send the input gradients back;
    one optimizer update. The op's verifier proves the sends and receives of
    every pair of stages match in order and that no stage waits forever.
    The stage functions operate on one micro-batch.

    `recompute` says what each stage keeps per micro-batch between its
    forward and its backward, and so which stage functions the actions call
    (made here unless they exist):

    - `full`: only the stage inputs; the backward recomputes the stage
      (`_stage<s>_forward`, `_stage<s>_backward`, as gpipe-outline-stages
      makes them).
    - `none`: every activation the backward reads; nothing is recomputed
      (`_stage<s>_forward_keep` returns them marked `gpipe.kept`,
      `_stage<s>_backward_keep` takes them).
    - `except-last`: `full` for every micro-batch but the last, `none` for
      the last (its backward follows its forward at once).
    - `auto`: per stage, the activations to keep are the set that saves the
      most recompute time (the cost model's forward time of their ops on the
      stage's device) while the stage fits `memory-budget` bytes (default:
      its device's memory): parameters, gradients and optimizer state, the
      inputs and kept activations of every micro-batch in flight under the
      schedule, and one micro-batch's activations during its backward. A
      0/1 knapsack picks them; the backward recomputes the rest
      (`_stage<s>_forward_auto` with `gpipe.kept_bytes`,
      `_stage<s>_backward_auto` with `gpipe.recomputed_ops` and
      `gpipe.recompute_seconds`). A stage that does not fit even when it
      keeps nothing is an error that gives its memory.

    `gpipe-run --stages` executes the schedule it reads from this op.

    Example:
    `gpipe-opt --gpipe-partition="stages=4 devices=devices/h100-sxm.json" --gpipe-pipeline="micro-batches=8 schedule=1f1b recompute=auto memory-budget=2e9"`
  }];
  let options = [
    Option<"function", "function", "std::string", /*default=*/"\"main\"",
           "The partitioned function">,
    Option<"microBatches", "micro-batches", "int64_t", /*default=*/"1",
           "Micro-batches per mini-batch (M)">,
    Option<"schedule", "schedule", "std::string", /*default=*/"\"gpipe\"", "gpipe | 1f1b">,
    Option<"recompute", "recompute", "std::string", /*default=*/"\"full\"",
           "none | full | except-last | auto">,
    Option<"memoryBudget", "memory-budget", "double", /*default=*/"0",
           "Bytes per stage under recompute=auto (0: the stage device's memory)">,
  ];
}

def SplitUpdate : Pass<"gpipe-split-update", "mlir::ModuleOp"> {
  let summary = "Split the optimizer update into one update per pipeline stage";
  let description = [{
    After `gpipe-pipeline`: the update function (`@<step>_update`, one
    gradient argument per trained parameter) becomes, per stage `s` whose
    stage functions alone read some trained parameters,
    `@<step>_update_stage<s>`: the update of those parameters and of their
    optimizer state, taking only their gradients, so that each stage updates
    its own parameters on its own device (GPipe's synchronous update without
    gathering every gradient and parameter in one place). What more than one
    stage touches (a parameter several stages read: tied weights; anything
    global-norm clipping mixes) goes to `@<step>_update_shared`, run where
    the main copy of the parameters is. State no stage reads (Adam's step
    count) is updated in every one of these functions, each on its own copy.

    Each `gpipe.set_param` of the update belongs to the stages of the
    parameters its value depends on (read, stored or whose gradient it
    takes); the new functions are the slices of the update that compute
    them. `@<step>_update` itself stays, for executors that run the update
    in one place. Nothing is split when one stage touches everything or when
    clipping ties every parameter together.

    Example: `gpipe-opt --gpipe-split-update="function=train_step_update"`
  }];
  let options = [
    Option<"function", "function", "std::string", /*default=*/"\"train_step_update\"",
           "The update function">,
  ];
}

def ScheduleReport : Pass<"gpipe-schedule-report", "mlir::ModuleOp"> {
  let summary = "Pipeline schedules of a partitioned model: timeline, bubble, peak memory";
  let description = [{
    For the partition `gpipe-partition` recorded in the IR, builds the
    per-stage programs of GPipe's fill-drain and of 1F1B with each recompute
    policy (none, full, except-last), proves that every send meets its
    receive in order and that no stage waits forever, lays them out in time
    from the cost model (micro-batch costs are the mini-batch's divided by
    M), and prints per schedule and policy the makespan, the bubble fraction
    next to GPipe's (K - 1) / (M + K - 1), and each stage's peak memory.
    With `svg`, draws the chosen schedule's timeline: stages by time,
    forward, recompute, backward, update and transfers told apart (GPipe's
    Figure 2 for this model).

    Example: `gpipe-opt --gpipe-partition="stages=4 devices=devices/h100-sxm.json micro-batches=8" --gpipe-schedule-report="schedule=1f1b svg=timeline.svg"`
  }];
  let options = [
    Option<"function", "function", "std::string", /*default=*/"\"main\"", "The model function">,
    Option<"microBatches", "micro-batches", "int64_t", /*default=*/"0",
           "Micro-batches (0: the partition's)">,
    Option<"schedule", "schedule", "std::string", /*default=*/"\"gpipe\"",
           "The schedule to draw: gpipe | 1f1b">,
    Option<"recompute", "recompute", "std::string", /*default=*/"\"full\"",
           "The recompute policy to draw: none | full | except-last">,
    Option<"svg", "svg", "std::string", /*default=*/"\"\"", "Write the timeline SVG here">,
    Option<"output", "output", "std::string", /*default=*/"\"-\"",
           "Where to write the report ('-': stdout)">,
  ];
}

def PlanMemory : Pass<"gpipe-plan-memory", "mlir::ModuleOp"> {
  let summary = "Give every tensor a static offset in one arena per function, reused by liveness";
  let description = [{
    For each function (all of them, or those `functions` names), gives every
    tensor an op computes a byte offset in one arena, so that two tensors
    share memory only when their lifetimes do not overlap. A tensor lives
    from the op that computes it to its last use (a returned one to the
    return). Function arguments belong to the caller; parameter reads
    (`gpipe.get_param`) alias the parameter store and constants are static
    data, so neither takes arena space.

    Placement is greedy by size: largest tensor first, each at the lowest
    offset (a multiple of `alignment`) that no tensor with an overlapping
    lifetime occupies. The result is checked: no two tensors alive at once
    overlap.

    Each op gets `gpipe.arena_offsets` (one offset per result, -1 for a
    result outside the arena); each function `gpipe.arena_bytes` (the arena
    size), `gpipe.all_live_bytes` (the memory if every tensor stayed alive)
    and `gpipe.peak_live_bytes` (the most bytes alive at one point: no plan
    needs less). With `report`, prints them per function.

    With `views` (the default), a reshape-like op (`gpipe.reshape`,
    `gpipe.flatten`, `gpipe.squeeze`, `gpipe.unsqueeze`) whose operand is an
    arena tensor or a function argument takes no bytes: it gets the unit
    attribute `gpipe.view`, its result is its operand's bytes under the new
    shape, and the tensor it views lives until the view's last use. A
    reshape of a parameter read or a constant still gets its own copy: a
    store may replace a parameter while a view of it is read.

    With `results` (the emitter's choice), a tensor an op computes and the
    function returns takes no arena bytes either: the op gets
    `gpipe.returned` (per result, the index of the function result it is
    computed into, or -1) and the emitted code writes it straight into that
    result's storage instead of copying it out of the arena at the return.
    A value returned twice is computed into its first slot. Likewise a
    value whose last use is the one `gpipe.set_param` that stores it (an
    optimizer's new parameter or state) gets `gpipe.stored` (per result)
    and is computed into a tensor of its own that the parameter table
    takes, instead of a copy of arena bytes.

    Example: `gpipe-opt --gpipe-plan-memory="report=-" stages.mlir`
  }];
  let options = [
    ListOption<"functions", "functions", "std::string",
               "Functions to plan (default: every function with a body)">,
    Option<"alignment", "alignment", "int64_t", /*default=*/"64",
           "Byte alignment of every offset (a power of two)">,
    Option<"report", "report", "std::string", /*default=*/"\"\"",
           "Print the arena size per function here ('-': stdout)">,
    Option<"views", "views", "bool", /*default=*/"true",
           "Reshape-like ops of arena tensors and arguments alias their operand (gpipe.view)">,
    Option<"results", "results", "bool", /*default=*/"false",
           "Returned and stored tensors are computed outside the arena, into the caller's result or the parameter table's new value (gpipe.returned, gpipe.stored)">,
  ];
}

#endif // GPIPE_TRANSFORMS_PASSES_TD
