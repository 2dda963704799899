// The key registry: who may connect, and as whom (ARCHITECTURE.md, "Keys"). `--keys DIR` holds
// DIR/clients.yaml, which maps each client's CurveZMQ public key to a channel (web, proxy,
// staff, or engine: a slotmatchd, for slotmatch-journal), an actor id and display name (R17's
// "changed by"), the units it may act from, its roles and its request rate. The ZAP handler
// (gate.hpp) admits only listed keys; the server takes the channel, actor and units of a
// request from the key it arrived under.
//
// A registry, once loaded, never changes. SIGHUP loads a new one (KeyRing::reload); the old ones
// stay in memory for the run (a few hundred bytes per key), so a holder that a request in
// flight points at stays valid.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <slotmatch/types.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace slotmatch::keys {

enum class KeyChannel : std::uint8_t { web, proxy, staff, engine };
std::string_view name_of(KeyChannel c);

// Operations per second (a message costs one per operation) and the burst a key may send
// beyond its rate, when its entry
// gives none: far above one gateway's need at a region's peak (a few hundred per second), low
// enough that one runaway client cannot take the server's whole capacity.
inline constexpr double rate_default = 2000;
inline constexpr double burst_default = 4000;

// One entry of clients.yaml.
struct KeyHolder {
    std::string key;  // the client's public key, Z85
    KeyChannel channel = KeyChannel::web;
    std::string actor;                // actor id
    std::string name;                 // display name ("changed by", R17)
    std::vector<std::string> units;   // unit ids it may act from (staff, unit-to-unit proxies)
    std::vector<UnitIdx> unit_index;  // the same, as the region numbers them
    bool region_admin = false;        // R8: region-wide and proxy appointment types
    double rate = rate_default;       // operations per second (token bucket)
    double burst = burst_default;     // the bucket's size
    int line = 0;                     // where it stands in the file, for messages
    // Refusal texts, made once at load: an Outcome's message is a view that must outlive the
    // reply, and the holder lives for the run (KeyRing).
    std::string acts_as;    // "this key acts as ACTOR ..."
    std::string acts_from;  // "this key may act from these units only: ..."

    bool may_act_from(UnitIdx u) const;
};

// A unit's index by its id, when the region has it (slotmatchd); null: units are not checked
// (slotmatch-journal, whose keys are engine keys and name none).
using UnitLookup = std::function<std::optional<UnitIdx>(std::string_view)>;

class KeyRegistry {
  public:
    // Loads and checks clients.yaml; nothing, with every problem found in `why` (the file's
    // name and line first), when anything in it is wrong.
    static std::unique_ptr<const KeyRegistry> load(const std::string& path, const UnitLookup& units,
                                                   std::string& why);

    // The entry of a public key (Z85), or null when it is not listed.
    const KeyHolder* find(std::string_view public_key) const;
    const std::vector<KeyHolder>& holders() const { return holders_; }

  private:
    static std::unique_ptr<const KeyRegistry> read(const std::string& path, const UnitLookup& units,
                                                   std::string& why);
    std::vector<KeyHolder> holders_;
    std::unordered_map<std::string_view, std::size_t> by_key_;  // views into holders_
};

// The registry in force, and the ones before it. Read from any thread; reloaded by one.
class KeyRing {
  public:
    // The first load; nothing, with the reason in `why`, when the file is wrong.
    static std::unique_ptr<KeyRing> open(std::string path, UnitLookup units, std::string& why);

    const KeyRegistry& current() const { return *current_.load(std::memory_order_acquire); }
    // Loads the file again. On success the new registry is in force for every request from
    // now on (a removed key is refused, on connections it already has as well); on failure the
    // one in force stays, and `why` says what is wrong with the file.
    bool reload(std::string& why);
    // A holder another thread found and handed over through a ZeroMQ pipe: the pipe orders the
    // hand-off, but ThreadSanitizer cannot see inside libzmq, so this acquire (pairing with the
    // release of the reload that built the holder) is the ordering it sees. Costs one load.
    const KeyHolder* handed_over(const KeyHolder* holder) const {
        (void)current_.load(std::memory_order_acquire);
        return holder;
    }
    const std::string& path() const { return path_; }

  private:
    KeyRing(std::string path, UnitLookup units)
        : path_(std::move(path)), units_(std::move(units)) {}

    std::string path_;
    UnitLookup units_;
    std::mutex reloading_;
    std::deque<std::unique_ptr<const KeyRegistry>> loaded_;  // every one, for the run
    std::atomic<const KeyRegistry*> current_{nullptr};
};

}  // namespace slotmatch::keys
