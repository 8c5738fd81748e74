//===- mpi.cpp - one stage per MPI rank -----------------------------------===//

#include "mpi.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <thread>

#ifdef GPIPE_HAVE_MPI
// The C API only (OpenMPI's and MPICH's headers add C++ bindings otherwise).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

using namespace gp;

bool Mpi::launched() {
#ifdef GPIPE_HAVE_MPI
  return std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMI_SIZE") ||
         std::getenv("PMIX_RANK");
#else
  return false;
#endif
}

#ifdef GPIPE_HAVE_MPI

namespace {

std::string mpiError(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return std::string(text, length);
}

bool check(int code, int rank, const std::string &call, std::string &error) {
  if (code == MPI_SUCCESS)
    return true;
  error = "rank " + std::to_string(rank) + ": " + call + " failed: " + mpiError(code);
  return false;
}

constexpr int kHeaderFields = 3 + GP_MAX_RANK; // tag, dtype, rank, dims

/// Tagged tensors as one header (count, then per tensor its tag, dtype,
/// rank and dims) and one payload (the bytes).
struct Packed {
  std::vector<int64_t> header;
  std::string payload;
};

bool pack(int self, int to, const TaggedTensors &tensors, Packed &p, std::string &error) {
  p.header.assign(1, static_cast<int64_t>(tensors.size()));
  for (const auto &[key, value] : tensors) {
    // MPI moves host bytes: a device tensor is copied to the host first.
    Tensor t = onHost(value, error);
    if (t.empty() && !value.empty())
      return false;
    const gp_tensor &v = *t.view();
    p.header.push_back(key);
    p.header.push_back(v.dtype);
    p.header.push_back(v.rank);
    for (int d = 0; d < GP_MAX_RANK; ++d)
      p.header.push_back(d < v.rank ? v.dims[d] : 0);
    p.payload.append(static_cast<const char *>(v.data), t.bytes());
  }
  return true;
}

/// The largest MPI message: a payload goes in pieces of at most this many
/// bytes (an MPI count is an int). GPIPE_MPI_CHUNK_BYTES sets it (the same
/// on every rank; the tests make it small).
size_t chunkBytes() {
  static const size_t bytes = [] {
    const char *text = std::getenv("GPIPE_MPI_CHUNK_BYTES");
    long long n = text ? std::atoll(text) : 0;
    return n > 0 && n <= INT_MAX ? static_cast<size_t>(n) : size_t(1) << 30;
  }();
  return bytes;
}

/// The pieces of a payload of `bytes`: (offset, length), at least one.
std::vector<std::pair<size_t, int>> pieces(size_t bytes) {
  std::vector<std::pair<size_t, int>> out;
  size_t chunk = chunkBytes();
  for (size_t offset = 0; offset < bytes || out.empty(); offset += chunk)
    out.emplace_back(offset, static_cast<int>(std::min(chunk, bytes - offset)));
  return out;
}

bool sendAll(int self, int to, int tag, const TaggedTensors &tensors, std::string &error) {
  Packed p;
  std::string call = "MPI_Send to rank " + std::to_string(to);
  if (!pack(self, to, tensors, p, error) ||
      !check(MPI_Send(p.header.data(), static_cast<int>(p.header.size()), MPI_INT64_T, to, tag,
                      MPI_COMM_WORLD),
             self, call, error))
    return false;
  for (auto [offset, length] : pieces(p.payload.size()))
    if (!check(MPI_Send(p.payload.data() + offset, length, MPI_BYTE, to, tag, MPI_COMM_WORLD),
               self, call, error))
      return false;
  return true;
}

/// Waits for a message from `from` with `tag`: MPI_Probe, or with a
/// positive `timeout` an MPI_Iprobe loop that gives up after that many
/// seconds.
bool probe(int self, int from, int tag, double timeout, MPI_Status &status, std::string &error) {
  std::string call = "MPI_Probe for rank " + std::to_string(from);
  if (timeout <= 0)
    return check(MPI_Probe(from, tag, MPI_COMM_WORLD, &status), self, call, error);
  auto start = std::chrono::steady_clock::now();
  for (;;) {
    int arrived = 0;
    if (!check(MPI_Iprobe(from, tag, MPI_COMM_WORLD, &arrived, &status), self, call, error))
      return false;
    if (arrived)
      return true;
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >
        timeout) {
      error = "rank " + std::to_string(self) + " received nothing from rank " +
              std::to_string(from) + " in " + std::to_string(static_cast<long>(timeout)) +
              " s; stopping every rank";
      return false;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

bool recvAll(int self, int from, int tag, TaggedTensors &tensors, std::string &error,
             double timeout = 0) {
  std::string call = "MPI_Recv from rank " + std::to_string(from);
  MPI_Status status;
  int count = 0;
  if (!probe(self, from, tag, timeout, status, error) ||
      !check(MPI_Get_count(&status, MPI_INT64_T, &count), self, call, error))
    return false;
  std::vector<int64_t> header(count);
  if (!check(MPI_Recv(header.data(), count, MPI_INT64_T, from, tag, MPI_COMM_WORLD,
                      MPI_STATUS_IGNORE),
             self, call, error))
    return false;
  int64_t n = header.empty() ? -1 : header[0];
  if (n < 0 || header.size() != static_cast<size_t>(1 + n * kHeaderFields)) {
    error = "rank " + std::to_string(self) + ": a malformed message from rank " +
            std::to_string(from);
    return false;
  }
  // The payload's size follows from the header; it comes in pieces.
  size_t total = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t *h = &header[1 + i * kHeaderFields];
    gp_tensor shape{};
    if (gp_tensor_init(&shape, static_cast<gp_dtype>(h[1]), static_cast<int32_t>(h[2]), h + 3) !=
        GP_OK) {
      error = "rank " + std::to_string(self) + ": a malformed message from rank " +
              std::to_string(from);
      return false;
    }
    total += gp_numel(&shape) * gp_dtype_size(shape.dtype);
  }
  std::string payload(total, '\0');
  for (auto [offset, length] : pieces(total)) {
    int got = 0;
    if (!check(MPI_Recv(payload.data() + offset, length, MPI_BYTE, from, tag, MPI_COMM_WORLD,
                        &status),
               self, call, error) ||
        !check(MPI_Get_count(&status, MPI_BYTE, &got), self, call, error))
      return false;
    if (got != length) {
      error = "rank " + std::to_string(self) + ": a message from rank " + std::to_string(from) +
              " came in pieces of another size (is GPIPE_MPI_CHUNK_BYTES the same on every "
              "rank?)";
      return false;
    }
  }
  size_t offset = 0;
  tensors.clear();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t *h = &header[1 + i * kHeaderFields];
    Tensor t = Tensor::allocate(static_cast<gp_dtype>(h[1]), static_cast<int32_t>(h[2]), h + 3);
    if (t.empty() || offset + t.bytes() > payload.size()) {
      error = "rank " + std::to_string(self) + ": a malformed message from rank " +
              std::to_string(from);
      return false;
    }
    std::memcpy(t.view()->data, payload.data() + offset, t.bytes());
    offset += t.bytes();
    tensors.emplace_back(h[0], std::move(t));
  }
  return true;
}

/// Stage-to-stage messages over MPI: activations and gradients have their
/// own tags, so each direction between two ranks is a FIFO, as MPI keeps
/// the order of messages with one source, tag and communicator.
class MpiTransport : public Transport {
public:
  explicit MpiTransport(int rank) : rank(rank) {}
  /// Sends do not wait for the receiver (the schedule verifier assumes
  /// buffered sends: a blocking send of a large activation while the peer
  /// sends a gradient back would deadlock 1F1B); the buffers live until
  /// the sends complete.
  bool send(int from, int to, bool gradient, const PipelineMessage &msg,
            std::string &error) override {
    TaggedTensors tensors;
    // The micro-batch travels as a scalar first entry tagged -1.
    Tensor marker = Tensor::allocate(GP_I64, 0, nullptr);
    *static_cast<int64_t *>(marker.view()->data) = msg.microBatch;
    tensors.emplace_back(-1, marker);
    for (size_t i = 0; i < msg.values.size(); ++i)
      tensors.emplace_back(i < msg.indices.size() ? msg.indices[i] : -1, msg.values[i]);
    auto pending = std::make_unique<Pending>();
    if (!pack(rank, to, tensors, pending->packed, error))
      return false;
    int tag = gradient ? 2 : 1;
    std::string call = "MPI_Isend to rank " + std::to_string(to);
    auto parts = pieces(pending->packed.payload.size());
    pending->requests.assign(1 + parts.size(), MPI_REQUEST_NULL);
    // In flight from the first request on: its buffers must outlive it.
    Pending &p = *pending;
    inFlight.push_back(std::move(pending));
    if (!check(MPI_Isend(p.packed.header.data(), static_cast<int>(p.packed.header.size()),
                         MPI_INT64_T, to, tag, MPI_COMM_WORLD, &p.requests[0]),
               rank, call, error))
      return false;
    for (size_t i = 0; i < parts.size(); ++i)
      if (!check(MPI_Isend(p.packed.payload.data() + parts[i].first, parts[i].second, MPI_BYTE,
                           to, tag, MPI_COMM_WORLD, &p.requests[1 + i]),
                 rank, call, error))
        return false;
    return reap(/*wait=*/false, error);
  }
  bool finish(std::string &error) override { return reap(/*wait=*/true, error); }
  bool recv(int from, int to, bool gradient, PipelineMessage &msg, std::string &error) override {
    TaggedTensors tensors;
    if (!recvAll(rank, from, gradient ? 2 : 1, tensors, error, timeout))
      return false;
    if (tensors.empty() || tensors[0].first != -1) {
      error = "rank " + std::to_string(rank) + ": a malformed message from rank " +
              std::to_string(from);
      return false;
    }
    msg.microBatch = static_cast<int>(*static_cast<int64_t *>(tensors[0].second.view()->data));
    msg.indices.clear();
    msg.values.clear();
    for (size_t i = 1; i < tensors.size(); ++i) {
      if (gradient)
        msg.indices.push_back(tensors[i].first);
      msg.values.push_back(tensors[i].second);
    }
    return true;
  }
  void stop() override {}
  void setRecvTimeout(double seconds) override { timeout = seconds; }

private:
  struct Pending {
    Packed packed;
    std::vector<MPI_Request> requests;
  };
  /// Drops the sends that completed (all of them with `wait`).
  bool reap(bool wait, std::string &error) {
    for (auto it = inFlight.begin(); it != inFlight.end();) {
      int done = 0;
      std::vector<MPI_Request> &requests = (*it)->requests;
      int count = static_cast<int>(requests.size());
      int code = wait ? MPI_Waitall(count, requests.data(), MPI_STATUSES_IGNORE)
                      : MPI_Testall(count, requests.data(), &done, MPI_STATUSES_IGNORE);
      if (!check(code, rank, wait ? "MPI_Waitall" : "MPI_Testall", error))
        return false;
      if (wait || done)
        it = inFlight.erase(it);
      else
        ++it;
    }
    return true;
  }
  int rank;
  std::vector<std::unique_ptr<Pending>> inFlight;
  double timeout = 0;
};

} // namespace

bool Mpi::init(int &argc, char **&argv, std::string &error) {
  int provided = 0;
  int code = MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
  if (code != MPI_SUCCESS) {
    error = "MPI_Init_thread failed";
    return false;
  }
  initialized = true;
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  if (provided < MPI_THREAD_SERIALIZED) {
    error = "the MPI library does not allow calls from the stage threads "
            "(MPI_THREAD_SERIALIZED)";
    return false;
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &rankValue);
  MPI_Comm_size(MPI_COMM_WORLD, &sizeValue);
  return true;
}

Mpi::~Mpi() {
  if (initialized)
    MPI_Finalize();
}

std::unique_ptr<Transport> Mpi::transport() { return std::make_unique<MpiTransport>(rankValue); }

int Mpi::localRank() const {
  MPI_Comm node;
  if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rankValue, MPI_INFO_NULL,
                          &node) != MPI_SUCCESS)
    return rankValue;
  int local = rankValue;
  MPI_Comm_rank(node, &local);
  MPI_Comm_free(&node);
  return local;
}

bool Mpi::sendTensors(int to, int tag, const TaggedTensors &tensors, std::string &error) {
  return sendAll(rankValue, to, tag, tensors, error);
}

bool Mpi::recvTensors(int from, int tag, TaggedTensors &tensors, std::string &error) {
  return recvAll(rankValue, from, tag, tensors, error);
}

void Mpi::abort() {
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::exit(1);
}

#else // !GPIPE_HAVE_MPI

bool Mpi::init(int &, char **&, std::string &error) {
  error = "this trainer was built without MPI";
  return false;
}
Mpi::~Mpi() = default;
std::unique_ptr<Transport> Mpi::transport() { return nullptr; }
int Mpi::localRank() const { return 0; }
bool Mpi::sendTensors(int, int, const TaggedTensors &, std::string &error) {
  error = "no MPI";
  return false;
}
bool Mpi::recvTensors(int, int, TaggedTensors &, std::string &error) {
  error = "no MPI";
  return false;
}
void Mpi::abort() { std::exit(1); }

#endif
