// An XXH3 streaming state owned by a unique_ptr, so it is freed on every path (an exception included)
// without an XXH3_freeState on each one.
#pragma once

#include <xxhash.h>

#include <memory>
#include <new>

namespace sluice {

struct Xxh3StateDeleter {
  void operator()(XXH3_state_t* s) const { XXH3_freeState(s); }
};
using Xxh3State = std::unique_ptr<XXH3_state_t, Xxh3StateDeleter>;

// A new state, reset for XXH3_64bits; throws std::bad_alloc if none can be allocated.
inline Xxh3State NewXxh3State() {
  Xxh3State s(XXH3_createState());
  if (!s) throw std::bad_alloc();
  XXH3_64bits_reset(s.get());
  return s;
}

}  // namespace sluice
