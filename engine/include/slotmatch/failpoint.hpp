// Failpoints: named places in the engine where a test can run code of its own, to put a
// narrow race window under control (e.g. a blocking event that registers between a cancel's
// reading of the slot's rest and its CAS). Compiled in only with SLOTMATCH_FAILPOINTS, which
// the test presets (debug, asan, tsan) set through the CMake option SLOTMATCH_FAILPOINTS;
// release builds, which the benchmarks measure, have no hook and no cost.
#pragma once

#include <functional>
#include <string_view>

namespace slotmatch::failpoint {

// Whether this build has failpoints (tests that need them skip otherwise).
bool compiled_in();
// Runs the action set for `name`, if any, once: the action is taken out as it runs, so an
// action that calls back into the engine does not run itself again. Takes no lock while no
// action is set.
void hit(std::string_view name);
// Sets (or with an empty function clears) the action of one failpoint.
void set(std::string_view name, std::function<void()> action);
// Mutants: deliberate bugs that tests switch on to prove they catch them (a rebook without its
// CAS, a scan that skips a slot). Off unless a test enables one; the check is one relaxed load
// while none is on.
bool mutant(std::string_view name);
void enable_mutant(std::string_view name, bool on);

#if defined(SLOTMATCH_FAILPOINTS)
#define SM_FAILPOINT(name) ::slotmatch::failpoint::hit(name)
#define SM_MUTANT(name) ::slotmatch::failpoint::mutant(name)
#else
#define SM_FAILPOINT(name) \
    do {                   \
    } while (0)
#define SM_MUTANT(name) false
#endif

}  // namespace slotmatch::failpoint
