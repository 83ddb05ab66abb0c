#pragma once
// Lua userdata outlive the C++ objects they stand for (a script may keep a
// headers object in a global), so they never hold a pointer. They hold a
// (slot, generation) pair instead; a slot's generation changes when its object
// goes away, and a stale pair then resolves to nullptr: an error for the
// script, never a dangling pointer.
#include <cstdint>
#include <vector>

namespace pier::lua {

class LiveObjects {
 public:
  struct Ref {
    uint32_t slot = 0;
    uint32_t generation = 0;  // 0 never names a live object
  };

  Ref add(void* target) {
    uint32_t slot;
    if (free_.empty()) {
      slot = static_cast<uint32_t>(slots_.size());
      slots_.push_back(Slot{});
    } else {
      slot = free_.back();
      free_.pop_back();
    }
    Slot& s = slots_[slot];
    s.target = target;
    if (++s.generation == 0) s.generation = 1;
    return Ref{slot, s.generation};
  }

  void remove(Ref ref) {
    if (find(ref) == nullptr) return;
    Slot& s = slots_[ref.slot];
    s.target = nullptr;
    if (++s.generation == 0) s.generation = 1;
    free_.push_back(ref.slot);
  }

  void* find(Ref ref) const {
    if (ref.slot >= slots_.size()) return nullptr;
    const Slot& s = slots_[ref.slot];
    return s.generation == ref.generation ? s.target : nullptr;
  }

  size_t liveCount() const { return slots_.size() - free_.size(); }

 private:
  struct Slot {
    void* target = nullptr;
    uint32_t generation = 0;
  };
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
};

}  // namespace pier::lua
