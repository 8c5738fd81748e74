//===- checkpoint.cpp - the trainer's state on disk -----------------------===//

#include "checkpoint.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace gp;

namespace {

constexpr char kMagic[8] = {'G', 'P', 'C', 'K', 'P', 'T', '0', '1'};

/// Appends plain values and byte strings to a buffer.
struct Writer {
  std::string bytes;
  template <typename T> void put(const T &v) {
    bytes.append(reinterpret_cast<const char *>(&v), sizeof(T));
  }
  void putString(const std::string &s) {
    put<uint64_t>(s.size());
    bytes += s;
  }
};

struct Reader {
  const std::string &bytes;
  size_t pos = 0;
  bool ok = true;
  template <typename T> T get() {
    T v{};
    if (pos + sizeof(T) > bytes.size()) {
      ok = false;
      return v;
    }
    std::memcpy(&v, bytes.data() + pos, sizeof(T));
    pos += sizeof(T);
    return v;
  }
  std::string getString() {
    uint64_t n = get<uint64_t>();
    if (!ok || pos + n > bytes.size()) {
      ok = false;
      return "";
    }
    std::string s = bytes.substr(pos, n);
    pos += n;
    return s;
  }
};

/// What identifies the program a checkpoint belongs to: every parameter's
/// name, type and shape.
std::string fingerprint(const Program &program) {
  std::string s;
  for (int i = 0; i < program.numParams; ++i) {
    const ParamSpec &p = program.params[i];
    s += p.name;
    s += ":" + std::to_string(p.dtype);
    for (int32_t d = 0; d < p.rank; ++d)
      s += "," + std::to_string(p.dims[d]);
    s += ";";
  }
  return s + std::to_string(program.stages) + "x" + std::to_string(program.microBatches);
}

std::string systemError(const std::string &what, const std::string &path) {
  return what + " '" + path + "': " + std::strerror(errno);
}

} // namespace

bool gp::writeCheckpoint(const std::string &dir, const Program &program, const Checkpoint &ckpt,
                         std::string &error) {
  if (mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST) {
    error = systemError("cannot create checkpoint directory", dir);
    return false;
  }
  Writer w;
  w.bytes.append(kMagic, sizeof(kMagic));
  w.putString(fingerprint(program));
  w.put<int64_t>(ckpt.step);
  w.put<int64_t>(ckpt.cursor);
  w.put<uint64_t>(ckpt.order.size());
  for (int64_t r : ckpt.order)
    w.put<int64_t>(r);
  w.putString(ckpt.rngState);
  w.put<uint64_t>(ckpt.values.size());
  for (const Tensor &t : ckpt.values) {
    w.put<uint8_t>(!t.empty());
    if (!t.empty())
      w.bytes.append(static_cast<const char *>(t.view()->data), t.bytes());
  }
  std::string path = dir + "/checkpoint.bin", tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    error = systemError("cannot write", tmp);
    return false;
  }
  size_t done = 0;
  while (done < w.bytes.size()) {
    ssize_t n = write(fd, w.bytes.data() + done, w.bytes.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      error = systemError("cannot write", tmp);
      close(fd);
      unlink(tmp.c_str());
      return false;
    }
    done += n;
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    error = systemError("cannot write", tmp);
    unlink(tmp.c_str());
    return false;
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    error = systemError("cannot rename the checkpoint to", path);
    unlink(tmp.c_str());
    return false;
  }
  return true;
}

bool gp::readCheckpoint(const std::string &dir, const Program &program, Checkpoint &ckpt,
                        std::string &error) {
  std::string path = dir + "/checkpoint.bin";
  std::FILE *f = std::fopen(path.c_str(), "rb");
  if (!f) {
    error = systemError("cannot read checkpoint", path);
    return false;
  }
  std::string bytes;
  char buffer[1 << 16];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), f)) > 0)
    bytes.append(buffer, n);
  std::fclose(f);
  Reader r{bytes};
  if (bytes.size() < sizeof(kMagic) || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    error = "'" + path + "' is not a gpipe checkpoint";
    return false;
  }
  r.pos = sizeof(kMagic);
  std::string written = r.getString();
  if (!r.ok) {
    error = "the checkpoint '" + path + "' is truncated or damaged";
    return false;
  }
  if (written != fingerprint(program)) {
    error = "the checkpoint in '" + dir + "' was written by another program (other parameters, "
            "stages or micro-batches)";
    return false;
  }
  ckpt.step = r.get<int64_t>();
  ckpt.cursor = r.get<int64_t>();
  uint64_t rows = r.get<uint64_t>();
  for (uint64_t i = 0; r.ok && i < rows; ++i)
    ckpt.order.push_back(r.get<int64_t>());
  ckpt.rngState = r.getString();
  uint64_t count = r.get<uint64_t>();
  if (r.ok && count != static_cast<uint64_t>(program.numParams))
    r.ok = false;
  for (int i = 0; r.ok && i < program.numParams; ++i) {
    const ParamSpec &p = program.params[i];
    if (!r.get<uint8_t>()) {
      ckpt.values.emplace_back();
      continue;
    }
    Tensor t = Tensor::allocate(p.dtype, p.rank, p.dims);
    if (t.empty() || r.pos + t.bytes() > bytes.size()) {
      r.ok = false;
      break;
    }
    std::memcpy(t.view()->data, bytes.data() + r.pos, t.bytes());
    r.pos += t.bytes();
    ckpt.values.push_back(std::move(t));
  }
  if (!r.ok || r.pos != bytes.size()) {
    error = "the checkpoint '" + path + "' is truncated or damaged";
    return false;
  }
  return true;
}
