#pragma once
// A contiguous byte buffer with a read and a write position. Parsers read
// views straight out of it (zero-copy); space is reclaimed by sliding the
// unread bytes to the front only when more room is needed.
#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

namespace pier {

class Buffer {
 public:
  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  std::string_view readable() const { return {data_.get() + read_, write_ - read_}; }
  size_t size() const { return write_ - read_; }
  bool empty() const { return read_ == write_; }
  void consume(size_t n) {
    read_ += n;
    if (read_ == write_) {
      read_ = write_ = 0;
    }
  }
  void clear() { read_ = write_ = 0; }

  // Room for at least `min` more bytes at writePtr().
  char* prepare(size_t min) {
    if (capacity_ - write_ < min) {
      grow(min);
    }
    return data_.get() + write_;
  }
  size_t writable() const { return capacity_ - write_; }
  void commit(size_t n) { write_ += n; }

  void append(std::string_view s) {
    if (s.empty()) {
      return;  // memcpy with a null destination is undefined even for 0 bytes
    }
    std::memcpy(prepare(s.size()), s.data(), s.size());
    write_ += s.size();
  }
  void append(char c) {
    *prepare(1) = c;
    ++write_;
  }

  // Releases memory of an idle buffer (keep-alive connections waiting).
  void shrinkIfEmpty() {
    if (empty() && capacity_ > kShrinkAbove) {
      data_.reset();
      capacity_ = 0;
      read_ = write_ = 0;
    }
  }
  size_t capacity() const { return capacity_; }

 private:
  static constexpr size_t kInitial = 16 * 1024;
  static constexpr size_t kShrinkAbove = 64 * 1024;

  void grow(size_t min) {
    size_t used = write_ - read_;
    if (read_ > 0 && capacity_ - used >= min && used <= capacity_ / 2) {
      std::memmove(data_.get(), data_.get() + read_, used);
    } else {
      size_t cap = capacity_ ? capacity_ : kInitial;
      while (cap - used < min) {
        cap *= 2;
      }
      auto fresh = std::make_unique_for_overwrite<char[]>(cap);
      if (used) {
        std::memcpy(fresh.get(), data_.get() + read_, used);
      }
      data_ = std::move(fresh);
      capacity_ = cap;
    }
    read_ = 0;
    write_ = used;
  }

  std::unique_ptr<char[]> data_;
  size_t capacity_ = 0;
  size_t read_ = 0;
  size_t write_ = 0;
};

}  // namespace pier
