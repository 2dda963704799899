#include <time.h>

#include <slotmatch/clock.hpp>

namespace slotmatch {

// Instants are whole seconds, so the coarse wall clock (updated every kernel tick, a few
// milliseconds) is exact enough, and it is read without the time-stamp counter: an operation
// reads the clock a few times, and the precise clock cost about a tenth of a booking's time
// on this VM (perf, slotmatch_wire_bench's batched phase).
Instant RealClock::now() const {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return Instant{static_cast<std::int64_t>(ts.tv_sec)};
}

}  // namespace slotmatch
