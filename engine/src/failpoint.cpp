#include <slotmatch/failpoint.hpp>

#if defined(SLOTMATCH_FAILPOINTS)
#include <map>
#include <mutex>
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

}  // namespace slotmatch::failpoint
#endif
