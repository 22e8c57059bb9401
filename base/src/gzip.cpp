// gzip.cpp: base/gzip.hpp over zlib.
#include "base/gzip.hpp"

#include <zlib.h>

#include <algorithm>
#include <memory>
#include <stdexcept>

namespace strop {

namespace {

constexpr int kGzipWindowBits = 15 + 16;  // 32 KiB window, gzip header and trailer
constexpr std::size_t kChunk = 64 * 1024;

struct DeflateStream {
  z_stream z{};
  ~DeflateStream() { deflateEnd(&z); }
};
struct InflateStream {
  z_stream z{};
  ~InflateStream() { inflateEnd(&z); }
};

Bytef* in_bytes(std::string_view data) {
  // zlib's next_in is not const; it only reads through it.
  return reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
}

}  // namespace

std::string gzip_compress(std::string_view data, int level) {
  DeflateStream s;
  if (deflateInit2(&s.z, level, Z_DEFLATED, kGzipWindowBits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");  // bad level or out of memory: a bug
  }
  std::string out(deflateBound(&s.z, static_cast<uLong>(data.size())), '\0');
  s.z.next_in = in_bytes(data);
  s.z.avail_in = static_cast<uInt>(data.size());
  s.z.next_out = reinterpret_cast<Bytef*>(out.data());
  s.z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&s.z, Z_FINISH) != Z_STREAM_END) throw std::runtime_error("deflate failed");
  out.resize(s.z.total_out);
  return out;
}

Result<std::string> gzip_decompress(std::string_view data, std::size_t max_out) {
  InflateStream s;
  if (inflateInit2(&s.z, kGzipWindowBits) != Z_OK) throw std::runtime_error("inflateInit2 failed");
  s.z.next_in = in_bytes(data);
  s.z.avail_in = static_cast<uInt>(data.size());
  std::string out;
  for (;;) {
    // Room for at most one byte past the limit: reaching it proves the limit is exceeded.
    const std::size_t room = std::min(kChunk, max_out + 1 - out.size());
    const std::size_t used = out.size();
    out.resize(used + room);
    s.z.next_out = reinterpret_cast<Bytef*>(out.data() + used);
    s.z.avail_out = static_cast<uInt>(room);
    const int rc = inflate(&s.z, Z_NO_FLUSH);
    out.resize(used + room - s.z.avail_out);
    if (out.size() > max_out) {
      return make_error(Errc::kLimitExceeded,
                        "gzip: more than " + std::to_string(max_out) + " bytes once decoded");
    }
    if (rc == Z_STREAM_END) {
      if (s.z.avail_in != 0) return make_error(Errc::kMalformed, "gzip: bytes after the member");
      return out;
    }
    if (rc == Z_BUF_ERROR && s.z.avail_in == 0) {
      return make_error(Errc::kMalformed, "gzip: truncated");
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return make_error(Errc::kMalformed,
                        std::string("gzip: ") + (s.z.msg != nullptr ? s.z.msg : "bad data"));
    }
  }
}

}  // namespace strop
