//===- sim-devices.cpp - a compiled CPU program on simulated devices ------===//
//
// Links with a gpipe-compile'd CPU program whose main was renamed
// gpipe_program_main, and runs it with an accelerator that puts stage s on
// "device" s % 2 (the update on device 0) and device memory that is host
// memory: every move between the host and a device, or between devices, is
// a real copy with the device recorded, and a sum checks that its operands
// are on one device. The trainer's device logic (placement, parameter
// tables per device, sums across devices, transfers) then runs without a
// GPU, and its results must equal the CPU trainer's.
//
//===----------------------------------------------------------------------===//

#include "gpipe/runtime/gp_program.h"

#include <atomic>
#include <cstdio>
#include <memory>
#include <cstdlib>
#include <cstring>

int gpipe_program_main(int argc, char **argv);

namespace {

constexpr int kDevices = 2;

// Bytes of the copies alive on each device, and the most there ever were.
std::atomic<int64_t> live[kDevices], peak[kDevices];

gp::Tensor copyTo(const gp::Tensor &t, int device) {
  gp::Tensor copy = gp::Tensor::copyOf(*t.view());
  if (copy.empty() || device < 0)
    return copy.empty() ? copy : gp::Tensor(*copy.view(), copy.owner(), device);
  int64_t bytes = static_cast<int64_t>(copy.bytes());
  int64_t now = live[device] += bytes;
  for (int64_t seen = peak[device]; now > seen && !peak[device].compare_exchange_weak(seen, now);)
    ;
  // The copy's storage, which gives its bytes back when the last user goes.
  auto *owner = new std::shared_ptr<void>(copy.owner());
  std::shared_ptr<void> tracked(owner, [device, bytes](void *p) {
    live[device] -= bytes;
    delete static_cast<std::shared_ptr<void> *>(p);
  });
  return gp::Tensor(*copy.view(), tracked, device);
}

/// GPIPE_SIM_PEAKS=1: the peak bytes of each device, when the program ends.
void reportPeaks() {
  for (int d = 0; d < kDevices; ++d)
    std::printf("simulated device %d: peak %lld bytes\n", d, static_cast<long long>(peak[d]));
}

class SimMemory : public gp::DeviceMemory {
public:
  gp::Tensor toHost(const gp::Tensor &t, std::string &error) override {
    if (t.device() < 0) {
      error = "toHost of a host tensor";
      return gp::Tensor();
    }
    return copyTo(t, -1);
  }
  gp::Tensor toDevice(const gp::Tensor &t, int device, std::string &error) override {
    if (device < 0 || device >= kDevices) {
      error = "no simulated device " + std::to_string(device);
      return gp::Tensor();
    }
    return t.device() == device ? t : copyTo(t, device);
  }
  gp::Tensor add(const gp::Tensor &a, const gp::Tensor &b, std::string &error) override {
    gp::Tensor other = toDevice(b, a.device(), error);
    if (other.empty() || a.device() < 0 || other.device() != a.device()) {
      if (error.empty())
        error = "a sum of tensors on different devices";
      return gp::Tensor();
    }
    const gp_tensor &v = *a.view();
    gp::Tensor sum = gp::Tensor::allocate(v.dtype, v.rank, v.dims);
    if (sum.empty() || gp_cpu_binary(GP_ADD, a.view(), other.view(), sum.view()) != GP_OK) {
      error = gp_last_error();
      return gp::Tensor();
    }
    return gp::Tensor(*sum.view(), sum.owner(), a.device());
  }
  bool hostAddressable() const override { return true; }
};

class SimAccelerator : public gp::Accelerator {
public:
  std::string describe() const override {
    return "simulated devices: " + std::to_string(kDevices);
  }
  bool attach(int stage, gp::FunctionContext &ctx, std::string &) override {
    // The context's device pointer carries the device number (plus one).
    ctx.device = reinterpret_cast<void *>(static_cast<intptr_t>(
        (local >= 0 ? local % kDevices : stage < 0 ? 0 : stage % kDevices) + 1));
    return true;
  }
  int deviceOf(const gp::FunctionContext &ctx) const override {
    return static_cast<int>(reinterpret_cast<intptr_t>(ctx.device)) - 1;
  }
  bool enter(gp::FunctionContext &ctx, std::string &error) override {
    if (ctx.device)
      return true;
    error = "a function entered in a context that was never attached";
    return false;
  }
  bool setProcess(int, int localRank, std::string &) override {
    local = localRank;
    return true;
  }

private:
  int local = -1;
};

} // namespace

int main(int argc, char **argv) {
  static SimMemory memory;
  static SimAccelerator accelerator;
  gp::setDeviceMemory(&memory);
  gp::setDefaultAccelerator(&accelerator);
  int status = gpipe_program_main(argc, argv);
  if (std::getenv("GPIPE_SIM_PEAKS"))
    reportPeaks();
  return status;
}
