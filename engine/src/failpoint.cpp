#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <slotmatch/failpoint.hpp>
#include <string>

namespace slotmatch::failpoint {

bool compiled_in() {
#if defined(SLOTMATCH_FAILPOINTS)
    return true;
#else
    return false;
#endif
}

namespace {

std::mutex& registry_mutex() {
    static std::mutex m;
    return m;
}
std::map<std::string, std::function<void()>, std::less<>>& registry() {
    static std::map<std::string, std::function<void()>, std::less<>> r;
    return r;
}

}  // namespace

namespace {
std::atomic<int> actions_set{0};  // hit() takes no lock while no test has set an action
}  // namespace

void hit(std::string_view name) {
    if (actions_set.load(std::memory_order_acquire) == 0) return;
    std::function<void()> action;
    {
        std::lock_guard lock(registry_mutex());
        auto it = registry().find(name);
        if (it == registry().end() || !it->second) return;
        action = std::move(it->second);
        it->second = nullptr;
        actions_set.fetch_sub(1, std::memory_order_acq_rel);
    }
    action();
}

void set(std::string_view name, std::function<void()> action) {
    std::lock_guard lock(registry_mutex());
    auto& slot = registry()[std::string(name)];
    if (!slot && action) actions_set.fetch_add(1, std::memory_order_acq_rel);
    if (slot && !action) actions_set.fetch_sub(1, std::memory_order_acq_rel);
    slot = std::move(action);
}

namespace {
std::atomic<int> mutants_on{0};
std::set<std::string, std::less<>>& mutants() {
    static std::set<std::string, std::less<>> m;
    return m;
}
}  // namespace

bool mutant(std::string_view name) {
    if (mutants_on.load(std::memory_order_relaxed) == 0) return false;
    std::lock_guard lock(registry_mutex());
    return mutants().find(name) != mutants().end();
}

void enable_mutant(std::string_view name, bool on) {
    std::lock_guard lock(registry_mutex());
    if (on && mutants().emplace(name).second) mutants_on.fetch_add(1);
    if (!on && mutants().erase(std::string(name)) > 0) mutants_on.fetch_sub(1);
}

}  // namespace slotmatch::failpoint
