#include <chrono>
#include <slotmatch/clock.hpp>

namespace slotmatch {

Instant RealClock::now() const {
    auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
    return Instant{std::chrono::duration_cast<std::chrono::seconds>(since_epoch).count()};
}

}  // namespace slotmatch
