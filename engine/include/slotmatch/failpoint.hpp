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
// Mutants: deliberate bugs that tests switch on to prove they catch them (a rebook without its
// CAS, a scan that skips a slot). Off unless a test enables one; the check is one relaxed load
// while none is on.
bool mutant(std::string_view name);
void enable_mutant(std::string_view name, bool on);
#define SM_FAILPOINT(name) ::slotmatch::failpoint::hit(name)
#define SM_MUTANT(name) ::slotmatch::failpoint::mutant(name)
#else
#define SM_FAILPOINT(name) \
    do {                   \
    } while (0)
#define SM_MUTANT(name) false
#endif

}  // namespace slotmatch::failpoint
