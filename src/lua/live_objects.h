#pragma once
// Lua userdata outlive the C++ objects they stand for (a script may keep a
// headers object in a global), so they never hold a pointer. They hold a
// (slot, generation) pair instead; a slot's generation changes when its object
// goes away, and a stale pair then resolves to nullptr: an error for the
// script, never a dangling pointer.
//
// An owner that lives through many runs (a filter's stream side) keeps one
// slot for all of them: each claim() starts a new generation, so the objects
// of the last run are dead without the slot going back and forth.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace pier::lua {

class LiveObjects {
 public:
  struct Ref {
    uint32_t slot = 0;
    uint32_t generation = 0;  // 0 never names a live object
  };

  // A slot for one owner, naming nothing until claim(); given back with release().
  uint32_t reserve() {
    if (free_.empty()) {
      slots_.push_back(Slot{});
      return static_cast<uint32_t>(slots_.size() - 1);
    }
    const uint32_t slot = free_.back();
    free_.pop_back();
    return slot;
  }

  // The slot now names `target`, under a generation no earlier Ref has.
  Ref claim(uint32_t slot, void* target) {
    Slot& s = slots_[slot];
    s.target = target;
    nextGeneration(s);
    return Ref{slot, s.generation};
  }

  // Refs of the current generation resolve to nullptr from now on; the slot
  // stays its owner's.
  void retire(Ref ref) {
    if (ref.slot >= slots_.size()) return;
    Slot& s = slots_[ref.slot];
    // A null target is enough until the next claim() starts a new generation.
    if (s.generation == ref.generation) s.target = nullptr;
  }

  void release(uint32_t slot) {
    Slot& s = slots_[slot];
    s.target = nullptr;
    nextGeneration(s);
    free_.push_back(slot);
  }

  void* find(Ref ref) const {
    if (ref.slot >= slots_.size()) return nullptr;
    const Slot& s = slots_[ref.slot];
    return s.generation == ref.generation ? s.target : nullptr;
  }

  // Slots that name an object now.
  size_t liveCount() const {
    size_t n = 0;
    for (const Slot& s : slots_) n += s.target != nullptr ? 1 : 0;
    return n;
  }

 private:
  struct Slot {
    void* target = nullptr;
    uint32_t generation = 0;
  };
  static void nextGeneration(Slot& s) {
    if (++s.generation == 0) s.generation = 1;
  }
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
};

}  // namespace pier::lua
