#include "milter/buffer.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace strop::milter {

bool MemoryBudget::try_acquire(std::size_t n) {
  std::size_t cur = used_.load(std::memory_order_relaxed);
  do {
    if (cur + n > limit_) return false;
  } while (!used_.compare_exchange_weak(cur, cur + n, std::memory_order_relaxed));
  return true;
}

MessageBuffer::MessageBuffer(const BufferOptions& options, MemoryBudget* budget)
    : options_(options), budget_(budget) {}

MessageBuffer::~MessageBuffer() { clear(); }

void MessageBuffer::unmap() {
  if (map_ != nullptr) {
    ::munmap(map_, map_len_);
    map_ = nullptr;
    map_len_ = 0;
  }
}

void MessageBuffer::clear() {
  unmap();
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  std::string().swap(mem_);
  if (budget_ != nullptr && reserved_ > 0) budget_->release(reserved_);
  reserved_ = 0;
  size_ = seen_ = 0;
}

Result<void> MessageBuffer::spill() {
  int fd = ::open(options_.spool_dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::string tmpl = options_.spool_dir + "/strop-milter.XXXXXX";
    fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
    if (fd >= 0) ::unlink(tmpl.c_str());
  }
  if (fd < 0) {
    return make_error(Errc::kIo,
                      "spill file in " + options_.spool_dir + ": " + std::strerror(errno));
  }
  fd_ = fd;
  std::string_view data = mem_;
  while (!data.empty()) {
    ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return make_error(Errc::kIo, std::string("spill write: ") + std::strerror(errno));
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  std::string().swap(mem_);
  if (budget_ != nullptr && reserved_ > 0) budget_->release(reserved_);
  reserved_ = 0;
  return {};
}

Result<void> MessageBuffer::append_header(std::string_view name, std::string_view value) {
  std::string line;
  line.reserve(name.size() + value.size() + 8);
  line.append(name).append(": ");
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r')) line += '\r';
    line += value[i];
  }
  line.append("\r\n");
  return append(line);
}

Result<void> MessageBuffer::append(std::string_view data) {
  seen_ += data.size();
  if (size_ >= options_.max_message_bytes) return {};
  if (size_ + data.size() > options_.max_message_bytes) {
    data = data.substr(0, options_.max_message_bytes - size_);
  }
  unmap();
  if (fd_ < 0) {
    std::size_t want = size_ + data.size();
    bool fits = want <= options_.memory_per_message;
    if (fits && want > reserved_) {
      // Reserve in steps so the shared atomic is touched rarely.
      std::size_t step = std::max<std::size_t>(want - reserved_, 64u << 10);
      step = std::min(step, options_.memory_per_message - reserved_);
      step = std::max(step, want - reserved_);
      if (budget_ == nullptr || budget_->try_acquire(step)) {
        reserved_ += step;
      } else {
        fits = false;
      }
    }
    if (fits) {
      mem_.append(data);
      size_ += data.size();
      return {};
    }
    if (auto s = spill(); !s) return s;
  }
  while (!data.empty()) {
    ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return make_error(Errc::kIo, std::string("spill write: ") + std::strerror(errno));
    size_ += static_cast<std::size_t>(n);
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Result<std::string_view> MessageBuffer::view() {
  if (fd_ < 0) return std::string_view(mem_);
  if (size_ == 0) return std::string_view();
  if (map_ == nullptr) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
    if (p == MAP_FAILED) return make_error(Errc::kIo, std::string("mmap: ") + std::strerror(errno));
    map_ = p;
    map_len_ = size_;
  }
  return std::string_view(static_cast<const char*>(map_), map_len_);
}

}  // namespace strop::milter
