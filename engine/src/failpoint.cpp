#include <slotmatch/failpoint.hpp>

#if defined(SLOTMATCH_FAILPOINTS)
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>

namespace slotmatch::failpoint {
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

void hit(std::string_view name) {
    std::function<void()> action;
    {
        std::lock_guard lock(registry_mutex());
        auto it = registry().find(name);
        if (it == registry().end() || !it->second) return;
        action = std::move(it->second);
        it->second = nullptr;
    }
    action();
}

void set(std::string_view name, std::function<void()> action) {
    std::lock_guard lock(registry_mutex());
    registry()[std::string(name)] = std::move(action);
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
#endif
