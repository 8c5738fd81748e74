//===- nccl_transport.cpp - stage-to-stage traffic over NCCL --------------===//
//
// One channel per direction between two stages that exchange values, each
// with its own two-rank NCCL communicator when the stages are on different
// GPUs: a channel carries messages one way in order, so a send waits only
// for the receive the peer's program posts for it, never behind traffic in
// the other direction (the schedule verifier's model: sends do not block
// the sending stage). Sends are enqueued on the channel's stream and kept
// alive until done; a receive waits for its data, polling NCCL's
// asynchronous error and the clock: a peer that stalls past the timeout
// aborts the communicator and fails the stage with the call and the stage
// named, which ends the run on every rank.
//
//===----------------------------------------------------------------------===//

#include "nccl_transport.h"

#include "gpipe/runtime/gp_cuda.h"
#include "gpipe/runtime/gp_cuda_program.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <map>
#include <set>
#include <thread>
#include <tuple>

using namespace gp;

namespace {

bool checkCuda(cudaError_t status, const std::string &what, std::string &error) {
  if (status == cudaSuccess)
    return true;
  error = what + ": " + cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")";
  return false;
}

bool checkNccl(ncclResult_t status, const std::string &what, std::string &error) {
  if (status == ncclSuccess)
    return true;
  error = what + ": " + ncclGetErrorString(status);
  return false;
}

/// The fields of a header entry: dtype, rank, dims.
constexpr int kHeaderFields = 2 + GP_MAX_RANK;
/// ncclUniqueId then the PCI bus id of the sender's GPU.
constexpr size_t kBusIdBytes = 64;

std::string busIdOf(int device) {
  char id[kBusIdBytes] = {};
  if (cudaDeviceGetPCIBusId(id, sizeof id, device) != cudaSuccess)
    return "";
  return id;
}

Tensor bytesTensor(const void *data, size_t n) {
  int64_t dims[1] = {static_cast<int64_t>(n)};
  Tensor t = Tensor::allocate(GP_U8, 1, dims);
  if (!t.empty())
    std::memcpy(t.view()->data, data, n);
  return t;
}

class NcclTransport : public Transport {
public:
  NcclTransport(std::unique_ptr<Transport> inner, const NcclOptions &options)
      : inner(std::move(inner)), options(options) {}

  ~NcclTransport() override {
    for (auto &[key, ch] : channels)
      for (End *end : {&ch.send, &ch.recv}) {
        if (end->device < 0)
          continue;
        cudaSetDevice(end->device);
        for (InFlight &f : ch.inFlight)
          cudaEventDestroy(f.done);
        ch.inFlight.clear();
        if (end->comm)
          stopped ? ncclCommAbort(end->comm) : ncclCommDestroy(end->comm);
        if (end->stream)
          cudaStreamDestroy(end->stream);
      }
  }

  /// Sets every channel with an end here up, in one order on every rank
  /// (a blocking communicator setup then never waits in a cycle).
  bool setUp(const std::vector<std::pair<int, int>> &edges, const std::vector<int> &localStages,
             const std::function<int(int)> &deviceOf, std::string &error) {
    std::set<int> local(localStages.begin(), localStages.end());
    std::set<std::tuple<int, int, bool>> keys;
    for (auto [producer, consumer] : edges) {
      keys.insert({producer, consumer, false});
      keys.insert({consumer, producer, true});
    }
    for (auto [src, dst, gradient] : keys) {
      bool srcHere = local.count(src), dstHere = local.count(dst);
      if (!srcHere && !dstHere)
        continue;
      Channel &ch = channels[{src, dst, gradient}];
      std::string what = "stage " + std::to_string(src) + " -> stage " + std::to_string(dst) +
                         (gradient ? " (gradients)" : " (activations)");
      if (srcHere && dstHere) {
        int devices[2] = {deviceOf(src), deviceOf(dst)};
        if (devices[0] == devices[1])
          continue; // the device tensors are handed over as they are
        ncclComm_t comms[2] = {};
        if (!checkNccl(ncclCommInitAll(comms, 2, devices), what + ": ncclCommInitAll", error))
          return false;
        ch.send.comm = comms[0];
        ch.recv.comm = comms[1];
        if (!open(ch.send, devices[0], what, error) || !open(ch.recv, devices[1], what, error))
          return false;
        ch.nccl = true;
        continue;
      }
      // The peer is another process: the sender makes the id, the
      // receiver says whether both are on one GPU (then the tensors go
      // through the host with the headers).
      int me = srcHere ? src : dst;
      int device = deviceOf(me);
      std::string busId = busIdOf(device);
      ncclUniqueId id{};
      bool sameGpu = false;
      if (srcHere) {
        if (!checkNccl(ncclGetUniqueId(&id), what + ": ncclGetUniqueId", error))
          return false;
        std::string payload(reinterpret_cast<const char *>(&id), sizeof id);
        payload.append(busId).resize(sizeof id + kBusIdBytes, '\0');
        PipelineMessage offer{-1, {}, {bytesTensor(payload.data(), payload.size())}}, reply;
        if (!inner->send(src, dst, gradient, offer, error) ||
            !inner->recv(dst, src, !gradient, reply, error))
          return false;
        if (reply.values.size() != 1 || reply.values[0].bytes() != 1)
          return fail(what + ": a malformed reply to the NCCL setup", error);
        sameGpu = *static_cast<const uint8_t *>(reply.values[0].view()->data) != 0;
      } else {
        PipelineMessage offer;
        if (!inner->recv(src, dst, gradient, offer, error))
          return false;
        if (offer.values.size() != 1 || offer.values[0].bytes() != sizeof id + kBusIdBytes)
          return fail(what + ": a malformed NCCL setup message", error);
        const char *bytes = static_cast<const char *>(offer.values[0].view()->data);
        std::memcpy(&id, bytes, sizeof id);
        sameGpu = !busId.empty() && busId == std::string(bytes + sizeof id);
        uint8_t flag = sameGpu;
        PipelineMessage reply{-1, {}, {bytesTensor(&flag, 1)}};
        if (!inner->send(dst, src, !gradient, reply, error))
          return false;
      }
      if (sameGpu)
        continue;
      End &end = srcHere ? ch.send : ch.recv;
      if (!checkCuda(cudaSetDevice(device), what + ": cudaSetDevice", error) ||
          !checkNccl(ncclCommInitRank(&end.comm, 2, id, srcHere ? 0 : 1),
                     what + ": ncclCommInitRank", error) ||
          !open(end, device, what, error))
        return false;
      ch.nccl = true;
    }
    return true;
  }

  bool send(int from, int to, bool gradient, const PipelineMessage &msg,
            std::string &error) override {
    Channel *ch = find(from, to, gradient);
    if (!ch)
      return inner->send(from, to, gradient, msg, error);
    std::string what = "stage " + std::to_string(from) + ": ncclSend of micro-batch " +
                       std::to_string(msg.microBatch) + " to stage " + std::to_string(to);
    if (!reap(*ch, to, /*wait=*/false, what, error))
      return false;
    // The header: per value its dtype, rank and dims.
    int64_t fields = 1 + kHeaderFields * static_cast<int64_t>(msg.values.size());
    Tensor header = Tensor::allocate(GP_I64, 1, &fields);
    int64_t *h = static_cast<int64_t *>(header.view()->data);
    *h++ = static_cast<int64_t>(msg.values.size());
    for (const Tensor &v : msg.values) {
      *h++ = v.view()->dtype;
      *h++ = v.view()->rank;
      for (int d = 0; d < GP_MAX_RANK; ++d)
        *h++ = d < v.view()->rank ? v.view()->dims[d] : 0;
    }
    if (!inner->send(from, to, gradient, {msg.microBatch, msg.indices, {header}}, error))
      return false;
    // The values were complete when their function returned.
    std::vector<Tensor> values;
    for (const Tensor &v : msg.values) {
      values.push_back(onDevice(v, ch->send.device, error));
      if (values.back().empty() && !v.empty())
        return false;
    }
    if (!checkCuda(cudaSetDevice(ch->send.device), what, error) ||
        !checkNccl(ncclGroupStart(), what + " (ncclGroupStart)", error))
      return false;
    for (const Tensor &v : values)
      if (v.bytes() && !checkNccl(ncclSend(v.view()->data, v.bytes(), ncclUint8, 1, ch->send.comm,
                                           ch->send.stream),
                                  what, error)) {
        ncclGroupEnd();
        return false;
      }
    InFlight f{nullptr, std::move(values)};
    if (!checkNccl(ncclGroupEnd(), what + " (ncclGroupEnd)", error) ||
        !checkCuda(cudaEventCreateWithFlags(&f.done, cudaEventDisableTiming), what, error) ||
        !checkCuda(cudaEventRecord(f.done, ch->send.stream), what, error))
      return false;
    ch->inFlight.push_back(std::move(f));
    return true;
  }

  bool recv(int from, int to, bool gradient, PipelineMessage &msg, std::string &error) override {
    Channel *ch = find(from, to, gradient);
    if (!ch)
      return inner->recv(from, to, gradient, msg, error);
    PipelineMessage header;
    if (!inner->recv(from, to, gradient, header, error))
      return false;
    std::string what = "stage " + std::to_string(to) + ": ncclRecv of micro-batch " +
                       std::to_string(header.microBatch) + " from stage " + std::to_string(from);
    if (header.values.size() != 1 || header.values[0].view()->dtype != GP_I64)
      return fail(what + ": a malformed header", error);
    const int64_t *h = static_cast<const int64_t *>(header.values[0].view()->data);
    int64_t n = h[0];
    if (n < 0 || gp_numel(header.values[0].view()) != 1 + kHeaderFields * n)
      return fail(what + ": a malformed header", error);
    msg.microBatch = header.microBatch;
    msg.indices = header.indices;
    msg.values.clear();
    for (int64_t i = 0; i < n; ++i) {
      const int64_t *e = h + 1 + i * kHeaderFields;
      Tensor t = allocateOnDevice(ch->recv.device, static_cast<gp_dtype>(e[0]),
                                  static_cast<int32_t>(e[1]), e + 2);
      if (t.empty())
        return fail(what + ": " + gp_last_error(), error);
      msg.values.push_back(std::move(t));
    }
    if (!checkCuda(cudaSetDevice(ch->recv.device), what, error) ||
        !checkNccl(ncclGroupStart(), what + " (ncclGroupStart)", error))
      return false;
    for (Tensor &v : msg.values)
      if (v.bytes() && !checkNccl(ncclRecv(v.view()->data, v.bytes(), ncclUint8, 0, ch->recv.comm,
                                           ch->recv.stream),
                                  what, error)) {
        ncclGroupEnd();
        return false;
      }
    if (!checkNccl(ncclGroupEnd(), what + " (ncclGroupEnd)", error))
      return false;
    return wait(ch->recv, from, what, [&] { return cudaStreamQuery(ch->recv.stream); }, error);
  }

  void stop() override {
    stopped = true;
    inner->stop();
  }

  bool finish(std::string &error) override {
    for (auto &[key, ch] : channels)
      if (ch.nccl && ch.send.comm &&
          !reap(ch, std::get<1>(key), /*wait=*/true,
                "stage " + std::to_string(std::get<0>(key)) + ": ncclSend to stage " +
                    std::to_string(std::get<1>(key)),
                error))
        return false;
    return inner->finish(error);
  }

private:
  struct End {
    ncclComm_t comm = nullptr;
    cudaStream_t stream = nullptr;
    int device = -1;
  };
  struct InFlight {
    cudaEvent_t done;
    std::vector<Tensor> values;
  };
  struct Channel {
    bool nccl = false;
    End send, recv;
    std::deque<InFlight> inFlight;
  };

  static bool fail(const std::string &message, std::string &error) {
    error = message;
    return false;
  }

  bool open(End &end, int device, const std::string &what, std::string &error) {
    end.device = device;
    return checkCuda(cudaSetDevice(device), what + ": cudaSetDevice", error) &&
           checkCuda(cudaStreamCreateWithFlags(&end.stream, cudaStreamNonBlocking),
                     what + ": cudaStreamCreateWithFlags", error);
  }

  Channel *find(int from, int to, bool gradient) {
    auto it = channels.find({from, to, gradient});
    return it == channels.end() || !it->second.nccl ? nullptr : &it->second;
  }

  /// Waits until `done()` stops answering cudaErrorNotReady, watching the
  /// communicator's asynchronous errors, a stop of the run and the clock.
  template <typename Done>
  bool wait(End &end, int peer, const std::string &what, Done done, std::string &error) {
    auto start = std::chrono::steady_clock::now();
    for (;;) {
      cudaError_t status = done();
      if (status == cudaSuccess)
        return true;
      if (status != cudaErrorNotReady)
        return checkCuda(status, what, error);
      ncclResult_t async = ncclSuccess;
      if (!checkNccl(ncclCommGetAsyncError(end.comm, &async), what, error))
        return false;
      if (async != ncclSuccess && async != ncclInProgress) {
        ncclCommAbort(end.comm);
        end.comm = nullptr;
        return checkNccl(async, what, error);
      }
      if (stopped) {
        error.clear(); // another stage failed and said why
        return false;
      }
      double waited =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (waited > options.timeoutSeconds) {
        ncclCommAbort(end.comm);
        end.comm = nullptr;
        return fail(what + ": stage " + std::to_string(peer) + " did not answer in " +
                        std::to_string(static_cast<long>(waited)) +
                        " s (--nccl-timeout); stopping every stage",
                    error);
      }
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  /// Releases the sends that completed (waits for all of them with `wait`).
  bool reap(Channel &ch, int peer, bool wait, const std::string &what, std::string &error) {
    while (!ch.inFlight.empty()) {
      InFlight &f = ch.inFlight.front();
      if (wait) {
        if (!this->wait(ch.send, peer, what, [&] { return cudaEventQuery(f.done); }, error))
          return false;
      } else {
        cudaError_t status = cudaEventQuery(f.done);
        if (status == cudaErrorNotReady)
          return true;
        if (!checkCuda(status, what, error))
          return false;
      }
      cudaEventDestroy(f.done);
      ch.inFlight.pop_front();
    }
    return true;
  }

  std::unique_ptr<Transport> inner;
  NcclOptions options;
  std::map<std::tuple<int, int, bool>, Channel> channels;
  std::atomic<bool> stopped{false};
};

} // namespace

std::unique_ptr<Transport> gp::makeNcclTransport(std::unique_ptr<Transport> inner,
                                                 const std::vector<std::pair<int, int>> &edges,
                                                 const std::vector<int> &localStages,
                                                 const std::function<int(int)> &deviceOf,
                                                 const NcclOptions &options, std::string &error) {
  auto transport = std::make_unique<NcclTransport>(std::move(inner), options);
  if (!transport->setUp(edges, localStages, deviceOf, error))
    return nullptr;
  return transport;
}
