// The engine reads time only through a Clock, so tests and `--clock fixed:` can stop it.
#pragma once

#include <atomic>
#include <slotmatch/types.hpp>

namespace slotmatch {

class Clock {
  public:
    virtual ~Clock() = default;
    virtual Instant now() const = 0;
};

class RealClock final : public Clock {
  public:
    Instant now() const override;
};

// Time stands still until set() moves it (tests, `slotmatch admin clock --set`).
class FixedClock final : public Clock {
  public:
    explicit FixedClock(Instant t) : now_(t.value) {}
    Instant now() const override { return Instant{now_.load(std::memory_order_acquire)}; }
    void set(Instant t) { now_.store(t.value, std::memory_order_release); }
    void advance_s(std::int64_t seconds) { now_.fetch_add(seconds, std::memory_order_acq_rel); }

  private:
    std::atomic<std::int64_t> now_;
};

}  // namespace slotmatch
