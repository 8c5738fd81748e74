//===- TrainingCommandLine.cpp - the training flags the tools share -------===//

#include "gpipe/Support/TrainingCommandLine.h"

using namespace mlir::gpipe;
namespace cl = llvm::cl;

TrainingCommandLine::TrainingCommandLine(cl::OptionCategory &train, cl::OptionCategory &pipeline)
    : loss("loss", cl::desc("cross-entropy | nll | mse | l1 | bce-with-logits | output"),
           cl::init("cross-entropy"), cl::cat(train)),
      optimizer("optimizer", cl::desc("sgd | momentum | adam | adamw"), cl::init("sgd"),
                cl::cat(train)),
      lr("lr", cl::desc("Learning rate"), cl::init(0.01), cl::cat(train)),
      momentum("momentum", cl::desc("Momentum"), cl::init(0.9), cl::cat(train)),
      beta1("beta1", cl::desc("Adam beta1"), cl::init(0.9), cl::cat(train)),
      beta2("beta2", cl::desc("Adam beta2"), cl::init(0.999), cl::cat(train)),
      eps("eps", cl::desc("Adam epsilon"), cl::init(1e-8), cl::cat(train)),
      weightDecay("weight-decay", cl::desc("Weight decay"), cl::init(0.0), cl::cat(train)),
      gradClip("grad-clip", cl::desc("Clip the gradients' global norm (0: off)"), cl::init(0.0),
               cl::cat(train)),
      classAxis("class-axis",
                cl::desc("Class dimension of cross-entropy/nll scores (-1: the last)"),
                cl::init(1), cl::cat(train)),
      frozen("frozen", cl::desc("A parameter not to train"), cl::cat(train)),
      microBatches("micro-batches",
                   cl::desc("Micro-batches per mini-batch (M; divides --batch-size)"),
                   cl::value_desc("M"), cl::init(1), cl::cat(pipeline)),
      microBatchesAlias("microbatches", cl::desc("Alias for --micro-batches"),
                        cl::aliasopt(microBatches), cl::cat(pipeline)),
      schedule("schedule", cl::desc("gpipe | 1f1b"), cl::init("gpipe"), cl::cat(pipeline)),
      recompute("recompute",
                cl::desc("What a stage keeps for the backward: none (recompute nothing) | full "
                         "(keep inputs only) | except-last | auto (what fits --memory-budget)"),
                cl::init("full"), cl::cat(pipeline)),
      memoryBudget("memory-budget",
                   cl::desc("Bytes per stage under --recompute auto (default: the device's "
                            "memory)"),
                   cl::value_desc("bytes"), cl::init(0), cl::cat(pipeline)),
      batchNorm("batch-norm",
                cl::desc("Batch norm's running statistics: micro-batch (updated per "
                         "micro-batch, as GPipe) | deferred (once per mini-batch, from the "
                         "whole mini-batch)"),
                cl::init("micro-batch"), cl::cat(pipeline)),
      devices("devices",
              cl::desc("Device files the partition balances for (one, or one per stage)"),
              cl::CommaSeparated, cl::cat(pipeline)),
      balance("balance", cl::desc("time | params | uniform | torchgpipe"), cl::init("time"),
              cl::cat(pipeline)),
      costProfile("cost-profile",
                  cl::desc("Measured per-op times (a trainer's --profile file) the partition "
                           "balances with instead of the estimates"),
                  cl::value_desc("ops.json"), cl::cat(pipeline)),
      splitUpdate("split-update",
                  cl::desc("Each stage updates the parameters only it reads, on its own device "
                           "(false: the whole update runs where the main parameters are)"),
                  cl::init(true), cl::cat(pipeline)) {}

TrainingFlags TrainingCommandLine::flags() const {
  TrainingFlags f;
  f.loss = loss;
  f.optimizer = optimizer;
  f.lr = lr;
  f.momentum = momentum;
  f.beta1 = beta1;
  f.beta2 = beta2;
  f.eps = eps;
  f.weightDecay = weightDecay;
  f.gradClip = gradClip;
  f.classAxis = classAxis;
  f.frozen.assign(frozen.begin(), frozen.end());
  f.microBatches = microBatches;
  f.schedule = schedule;
  f.recompute = recompute;
  f.memoryBudget = memoryBudget;
  f.batchNorm = batchNorm;
  f.devices.assign(devices.begin(), devices.end());
  f.balance = balance;
  f.costProfile = costProfile;
  f.splitUpdate = splitUpdate;
  return f;
}

bool TrainingCommandLine::anyPipelineFlag() const {
  return microBatches.getNumOccurrences() || schedule.getNumOccurrences() ||
         recompute.getNumOccurrences() || memoryBudget.getNumOccurrences() ||
         batchNorm.getNumOccurrences() || !devices.empty() || balance.getNumOccurrences() ||
         costProfile.getNumOccurrences() || splitUpdate.getNumOccurrences();
}
