// buffer.hpp: per-message buffering of what libmilter hands over, bounded in memory.
//
// A MessageBuffer keeps a message in memory up to BufferOptions::memory_per_message and only
// while the process-wide MemoryBudget allows; beyond that it spills to an anonymous temp
// file (O_TMPFILE, or mkstemp + unlink) in spool_dir, so the file disappears on every exit
// path. Past max_message_bytes it stops storing and marks itself truncated (the message is
// then too large to scan). view() returns the whole stored message contiguously (an mmap of
// the spill file), valid until the next append(), clear() or destruction.
// Thread-safety: a MessageBuffer belongs to one SMTP connection (one thread at a time);
// MemoryBudget is shared and thread-safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace strop::milter {

class MemoryBudget {
 public:
  explicit MemoryBudget(std::size_t limit) : limit_(limit) {}
  // Reserves n bytes when the total stays within the limit.
  bool try_acquire(std::size_t n);
  void release(std::size_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }
  std::size_t used() const { return used_.load(std::memory_order_relaxed); }
  std::size_t limit() const { return limit_; }

 private:
  const std::size_t limit_;
  std::atomic<std::size_t> used_{0};
};

struct BufferOptions {
  std::size_t memory_per_message = 1u << 20;  // Default: 1 MiB in memory, then spill
  std::size_t max_message_bytes = 64u << 20;  // Default: 64 MiB stored at most
  std::string spool_dir = "/var/tmp";         // Default: /var/tmp
};

class MessageBuffer {
 public:
  MessageBuffer(const BufferOptions& options, MemoryBudget* budget);
  ~MessageBuffer();
  MessageBuffer(const MessageBuffer&) = delete;
  MessageBuffer& operator=(const MessageBuffer&) = delete;

  // kIo when the spill file cannot be created or written.
  Result<void> append(std::string_view data);
  // One header field as libmilter hands it over (the value's folded lines joined by bare
  // LF): appends "NAME: VALUE\r\n" with every bare LF of the value made CRLF.
  Result<void> append_header(std::string_view name, std::string_view value);
  // The empty line that ends the header block.
  Result<void> end_headers() { return append("\r\n"); }
  Result<std::string_view> view();
  void clear();

  std::size_t size() const { return size_; }  // bytes stored
  std::size_t seen() const { return seen_; }  // bytes offered (>= size when truncated)
  bool truncated() const { return seen_ > size_; }
  bool spilled() const { return fd_ >= 0; }

 private:
  Result<void> spill();
  void unmap();

  BufferOptions options_;
  MemoryBudget* budget_;
  std::string mem_;
  std::size_t reserved_ = 0;
  int fd_ = -1;
  std::size_t size_ = 0, seen_ = 0;
  void* map_ = nullptr;
  std::size_t map_len_ = 0;
};

}  // namespace strop::milter
