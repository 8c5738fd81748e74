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
#include <memory>
#include <mutex>
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

/// The fields of a header entry: the output index (-1: none), dtype, rank,
/// dims. The header starts with the number of values and of indices.
constexpr int kHeaderFields = 3 + GP_MAX_RANK;
/// The setup offer: ncclUniqueId, then the UUID of the sender's GPU (unique
/// across hosts, unlike a PCI bus id).
constexpr size_t kUuidBytes = sizeof(cudaUUID_t);

std::string uuidOf(int device) {
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, device) != cudaSuccess)
    return "";
  return std::string(prop.uuid.bytes, sizeof prop.uuid.bytes);
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
    // The communicators end first: a stopped run's transfers may still
    // use the buffers the in-flight sends hold.
    for (auto &[key, ch] : channels)
      for (End *end : {&ch.send, &ch.recv})
        if (end->comm) {
          cudaSetDevice(end->device);
          // Destroy flushes pending operations, which never end when a peer
          // is gone: only a transport that finished cleanly may use it.
          clean && !stopped ? ncclCommDestroy(end->comm) : ncclCommAbort(end->comm);
          end->comm = nullptr;
        }
    for (auto &[key, ch] : channels) {
      for (InFlight &f : ch.inFlight) {
        cudaSetDevice(ch.send.device);
        if (f.done)
          cudaEventDestroy(f.done);
      }
      ch.inFlight.clear();
      for (End *end : {&ch.send, &ch.recv})
        if (end->stream) {
          cudaSetDevice(end->device);
          cudaStreamDestroy(end->stream);
        }
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
        if (!open(ch.send, devices[0], what, error) || !open(ch.recv, devices[1], what, error) ||
            !connect(ch, what, error))
          return false;
        ch.nccl = true;
        continue;
      }
      // The peer is another process: the sender makes the id, the
      // receiver says whether both are on one GPU (then the tensors go
      // through the host with the headers).
      int me = srcHere ? src : dst;
      int device = deviceOf(me);
      std::string uuid = uuidOf(device);
      ncclUniqueId id{};
      bool sameGpu = false;
      if (srcHere) {
        if (!checkNccl(ncclGetUniqueId(&id), what + ": ncclGetUniqueId", error))
          return false;
        std::string payload(reinterpret_cast<const char *>(&id), sizeof id);
        payload.append(uuid).resize(sizeof id + kUuidBytes, '\0');
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
        if (offer.values.size() != 1 || offer.values[0].bytes() != sizeof id + kUuidBytes)
          return fail(what + ": a malformed NCCL setup message", error);
        const char *bytes = static_cast<const char *>(offer.values[0].view()->data);
        std::memcpy(&id, bytes, sizeof id);
        sameGpu = !uuid.empty() && uuid == std::string(bytes + sizeof id, kUuidBytes);
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
          !open(end, device, what, error) || !connect(ch, what, error))
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
    clean = false;
    if (!reap(*ch, to, /*wait=*/false, what, error))
      return false;
    // The header: the counts, then per value its output index, dtype, rank
    // and dims (the inner transport may carry no indices of its own).
    int64_t fields = 2 + kHeaderFields * static_cast<int64_t>(msg.values.size());
    Tensor header = Tensor::allocate(GP_I64, 1, &fields);
    if (header.empty())
      return fail(what + ": out of memory", error);
    int64_t *h = static_cast<int64_t *>(header.view()->data);
    *h++ = static_cast<int64_t>(msg.values.size());
    *h++ = static_cast<int64_t>(msg.indices.size());
    for (size_t i = 0; i < msg.values.size(); ++i) {
      const Tensor &v = msg.values[i];
      *h++ = i < msg.indices.size() ? msg.indices[i] : -1;
      *h++ = v.view()->dtype;
      *h++ = v.view()->rank;
      for (int d = 0; d < GP_MAX_RANK; ++d)
        *h++ = d < v.view()->rank ? v.view()->dims[d] : 0;
    }
    if (!inner->send(from, to, gradient, {msg.microBatch, {}, {header}}, error))
      return false;
    // With --sync host the values were complete when their function
    // returned; with events the send stream waits for them below.
    std::vector<Tensor> values;
    for (const Tensor &v : msg.values) {
      values.push_back(onDevice(v, ch->send.device, error));
      if (values.back().empty() && !v.empty())
        return false;
    }
    // NCCL calls on one device from several threads (stages sharing a GPU)
    // must not interleave, even on different communicators.
    std::lock_guard<std::mutex> issuing(deviceMutex(ch->send.device));
    // The values stay in flight from before the first send: NCCL may read
    // them until the send's event completes, or until a failure below
    // aborted the communicator (which cancels what it had enqueued).
    ch->inFlight.push_back({nullptr, std::move(values)});
    InFlight &f = ch->inFlight.back();
    auto failed = [&] {
      abortComm(ch->send);
      return false;
    };
    if (!checkCuda(cudaSetDevice(ch->send.device), what, error))
      return failed();
    for (const Tensor &v : f.values)
      if (gp_cuda_await_stream(ch->send.stream, ch->send.device, v.view()) != GP_OK) {
        error = what + ": " + gp_last_error();
        return failed();
      }
    if (!checkNccl(ncclGroupStart(), what + " (ncclGroupStart)", error))
      return failed();
    for (const Tensor &v : f.values)
      if (v.bytes() && !checkNccl(ncclSend(v.view()->data, v.bytes(), ncclUint8, 1, ch->send.comm,
                                           ch->send.stream),
                                  what, error)) {
        ncclGroupEnd();
        return failed();
      }
    if (!checkNccl(ncclGroupEnd(), what + " (ncclGroupEnd)", error) ||
        !checkCuda(cudaEventCreateWithFlags(&f.done, cudaEventDisableTiming),
                   what + " (cudaEventCreateWithFlags)", error) ||
        !checkCuda(cudaEventRecord(f.done, ch->send.stream), what + " (cudaEventRecord)", error))
      return failed();
    return true;
  }

  bool recv(int from, int to, bool gradient, PipelineMessage &msg, std::string &error) override {
    Channel *ch = find(from, to, gradient);
    if (!ch)
      return inner->recv(from, to, gradient, msg, error);
    clean = false;
    PipelineMessage header;
    if (!inner->recv(from, to, gradient, header, error))
      return false;
    std::string what = "stage " + std::to_string(to) + ": ncclRecv of micro-batch " +
                       std::to_string(header.microBatch) + " from stage " + std::to_string(from);
    if (header.values.size() != 1 || header.values[0].view()->dtype != GP_I64)
      return fail(what + ": a malformed header", error);
    const int64_t *h = static_cast<const int64_t *>(header.values[0].view()->data);
    int64_t n = gp_numel(header.values[0].view()) >= 2 ? h[0] : -1;
    if (n < 0 || h[1] < 0 || h[1] > n || gp_numel(header.values[0].view()) != 2 + kHeaderFields * n)
      return fail(what + ": a malformed header", error);
    msg.microBatch = header.microBatch;
    msg.indices.clear();
    msg.values.clear();
    for (int64_t i = 0; i < n; ++i) {
      const int64_t *e = h + 2 + i * kHeaderFields;
      if (i < h[1])
        msg.indices.push_back(e[0]);
      Tensor t = allocateOnDevice(ch->recv.device, static_cast<gp_dtype>(e[1]),
                                  static_cast<int32_t>(e[2]), e + 3);
      if (t.empty())
        return fail(what + ": " + gp_last_error(), error);
      msg.values.push_back(std::move(t));
    }
    {
      std::lock_guard<std::mutex> issuing(deviceMutex(ch->recv.device));
      if (!checkCuda(cudaSetDevice(ch->recv.device), what, error) ||
          !checkNccl(ncclGroupStart(), what + " (ncclGroupStart)", error))
        return false;
      for (Tensor &v : msg.values)
        if (v.bytes() &&
            !checkNccl(ncclRecv(v.view()->data, v.bytes(), ncclUint8, 0, ch->recv.comm,
                                ch->recv.stream),
                       what, error)) {
          ncclGroupEnd();
          abortComm(ch->recv);
          return false;
        }
      if (!checkNccl(ncclGroupEnd(), what + " (ncclGroupEnd)", error)) {
        abortComm(ch->recv);
        return false;
      }
    }
    // On failure wait() has aborted the communicator, so NCCL no longer
    // writes into the buffers msg.values drops.
    return wait(ch->recv, from, what, [&] { return cudaStreamQuery(ch->recv.stream); }, error);
  }

  void stop() override {
    stopped = true;
    inner->stop();
  }

  void setRecvTimeout(double seconds) override {
    options.timeoutSeconds = seconds;
    inner->setRecvTimeout(seconds);
  }

  bool finish(std::string &error) override {
    for (auto &[key, ch] : channels)
      if (ch.nccl && ch.send.comm &&
          !reap(ch, std::get<1>(key), /*wait=*/true,
                "stage " + std::to_string(std::get<0>(key)) + ": ncclSend to stage " +
                    std::to_string(std::get<1>(key)),
                error))
        return false;
    if (!inner->finish(error))
      return false;
    clean = true;
    return true;
  }

  /// After a successful setUp nothing is pending.
  void markClean() { clean = true; }

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

  /// Ends `end`'s communicator now, cancelling its pending operations.
  static void abortComm(End &end) {
    if (!end.comm)
      return;
    cudaSetDevice(end.device);
    ncclCommAbort(end.comm);
    end.comm = nullptr;
  }

  /// One lock per device for issuing NCCL operations (NCCL does not allow
  /// threads to issue to different communicators of one device at once).
  static std::mutex &deviceMutex(int device) {
    static std::mutex guard;
    static std::map<int, std::unique_ptr<std::mutex>> locks;
    std::lock_guard<std::mutex> lock(guard);
    std::unique_ptr<std::mutex> &m = locks[device];
    if (!m)
      m = std::make_unique<std::mutex>();
    return *m;
  }

  /// One byte each way through the channel's communicator now: NCCL
  /// connects a pair of ranks on their first transfer, which blocks the
  /// host until the peer posts its side; at setup both sides are here.
  bool connect(Channel &ch, const std::string &what, std::string &error) {
    bool send = ch.send.comm, recv = ch.recv.comm;
    std::vector<Tensor> bytes;
    for (End *end : {&ch.send, &ch.recv})
      if (end->comm) {
        int64_t one = 1;
        bytes.push_back(allocateOnDevice(end->device, GP_U8, 1, &one));
        if (bytes.back().empty())
          return fail(what + ": " + gp_last_error(), error);
      }
    // One group over both ends: lock their devices (in one order).
    std::unique_lock<std::mutex> first, second;
    {
      int d0 = ch.send.comm ? ch.send.device : ch.recv.device;
      int d1 = ch.recv.comm ? ch.recv.device : ch.send.device;
      first = std::unique_lock<std::mutex>(deviceMutex(std::min(d0, d1)));
      if (d0 != d1)
        second = std::unique_lock<std::mutex>(deviceMutex(std::max(d0, d1)));
    }
    if (!checkNccl(ncclGroupStart(), what + ": ncclGroupStart", error))
      return false;
    size_t b = 0;
    // A failure once the group started aborts both ends before the bytes
    // NCCL may still touch are released.
    auto failed = [&] {
      abortComm(ch.send);
      abortComm(ch.recv);
      return false;
    };
    if (send && !checkNccl(ncclSend(bytes[b++].view()->data, 1, ncclUint8, 1, ch.send.comm,
                                    ch.send.stream),
                           what + ": ncclSend (connect)", error)) {
      ncclGroupEnd();
      return failed();
    }
    if (recv && !checkNccl(ncclRecv(bytes[b].view()->data, 1, ncclUint8, 0, ch.recv.comm,
                                    ch.recv.stream),
                           what + ": ncclRecv (connect)", error)) {
      ncclGroupEnd();
      return failed();
    }
    if (!checkNccl(ncclGroupEnd(), what + ": ncclGroupEnd (connect)", error))
      return failed();
    if (second.owns_lock())
      second.unlock();
    first.unlock();
    for (End *end : {&ch.send, &ch.recv})
      if (end->comm && !wait(*end, -1, what + " (connect)",
                             [&] { return cudaStreamQuery(end->stream); }, error))
        return false;
    return true;
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
      if (status != cudaErrorNotReady) {
        abortComm(end);
        return checkCuda(status, what, error);
      }
      ncclResult_t async = ncclSuccess;
      if (!checkNccl(ncclCommGetAsyncError(end.comm, &async), what, error)) {
        abortComm(end);
        return false;
      }
      if (async != ncclSuccess && async != ncclInProgress) {
        std::string detail = ncclGetLastError(end.comm);
        abortComm(end);
        checkNccl(async, what, error);
        if (!detail.empty())
          error += " (" + detail + ")";
        return false;
      }
      if (stopped) {
        // Another stage failed and said why. NCCL may still write into
        // this receive's buffers: end the communicator before they go.
        abortComm(end);
        error.clear();
        return false;
      }
      double waited =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (waited > options.timeoutSeconds) {
        abortComm(end);
        return fail(what + ": " +
                        (peer >= 0 ? "stage " + std::to_string(peer) : std::string("the peer")) +
                        " did not answer in " +
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
      if (!f.done) // its send failed and aborted the communicator
        return fail(what + ": an earlier send on this channel failed", error);
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
  /// Whether nothing is pending: set up or finished without an error.
  std::atomic<bool> clean{false};
};

} // namespace

std::unique_ptr<Transport> gp::makeNcclTransport(std::unique_ptr<Transport> inner,
                                                 const std::vector<std::pair<int, int>> &edges,
                                                 const std::vector<int> &localStages,
                                                 const std::function<int(int)> &deviceOf,
                                                 const NcclOptions &options, std::string &error) {
  auto transport = std::make_unique<NcclTransport>(std::move(inner), options);
  if (!transport->setUp(edges, localStages, deviceOf, error))
    return nullptr; // its destructor aborts the communicators set up so far
  transport->markClean();
  return transport;
}
