// Failpoints: named places in the engine where a test can run code of its own, to put a
// narrow race window under control (e.g. a blocking event that registers between a cancel's
// reading of the slot's rest and its CAS). Compiled in only with SLOTMATCH_FAILPOINTS, which
// the test builds set; release builds have no hook and no cost.
#pragma once

#include <functional>
#include <string_view>

namespace slotmatch::failpoint {

#if defined(SLOTMATCH_FAILPOINTS)
// Runs the action set for `name`, if any. The action is taken out while it runs, so an action
// that calls back into the engine does not run itself again.
void hit(std::string_view name);
// Sets (or with an empty function clears) the action of one failpoint.
void set(std::string_view name, std::function<void()> action);
#define SM_FAILPOINT(name) ::slotmatch::failpoint::hit(name)
#else
#define SM_FAILPOINT(name) \
    do {                   \
    } while (0)
#endif

}  // namespace slotmatch::failpoint
