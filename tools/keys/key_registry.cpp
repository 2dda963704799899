#include "key_registry.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>
#include <slotmatch/assert.hpp>

#include "key_files.hpp"

namespace slotmatch::keys {

std::string_view name_of(KeyChannel c) {
    switch (c) {
        case KeyChannel::web:
            return "web";
        case KeyChannel::proxy:
            return "proxy";
        case KeyChannel::staff:
            return "staff";
        case KeyChannel::engine:
            return "engine";
    }
    return "?";
}

bool KeyHolder::may_act_from(UnitIdx u) const {
    return std::find(unit_index.begin(), unit_index.end(), u) != unit_index.end();
}

namespace {

const std::set<std::string> entry_fields = {"key",   "channel", "actor", "name",
                                            "units", "roles",   "rate",  "burst"};

std::optional<KeyChannel> channel_named(const std::string& s) {
    if (s == "web") return KeyChannel::web;
    if (s == "proxy") return KeyChannel::proxy;
    if (s == "staff") return KeyChannel::staff;
    if (s == "engine") return KeyChannel::engine;
    return std::nullopt;
}

// Collects the problems of one file, each with its line.
struct Problems {
    std::string path;
    std::vector<std::string> list;
    void add(const YAML::Node& at, const std::string& what) {
        list.push_back(path + ":" + std::to_string(at.Mark().line + 1) + ": " + what);
    }
};

std::vector<std::string> text_list(const YAML::Node& n, const char* field, Problems& p) {
    std::vector<std::string> out;
    if (!n) return out;
    if (!n.IsSequence()) {
        p.add(n, std::string(field) + " is a list");
        return out;
    }
    for (const YAML::Node& item : n) {
        if (!item.IsScalar()) {
            p.add(item, std::string(field) + " lists text");
            continue;
        }
        out.push_back(item.as<std::string>());
    }
    return out;
}

std::optional<double> positive_number(const YAML::Node& n, const char* field, Problems& p) {
    double v = 0;
    if (!n.IsScalar() || !YAML::convert<double>::decode(n, v) || !(v > 0) || v > 1e9) {
        p.add(n, std::string(field) + " is a number above 0 (" +
                     (std::string_view(field) == "rate" ? "operations per second" : "operations") +
                     ")");
        return std::nullopt;
    }
    return v;
}

// One entry; nothing when it is wrong (its problems are in `p`).
std::optional<KeyHolder> read_entry(const YAML::Node& e, const UnitLookup& unit_of, Problems& p) {
    const std::size_t problems_before = p.list.size();
    if (!e.IsMap()) {
        p.add(e, "each client is a map (key, channel, actor, name, ...)");
        return std::nullopt;
    }
    for (const auto& kv : e) {
        if (!kv.first.IsScalar()) {
            p.add(kv.first, "a field name is text");
            continue;
        }
        const std::string field = kv.first.as<std::string>();
        if (!entry_fields.count(field)) {
            p.add(kv.first, "unknown field '" + field +
                                "' (key, channel, actor, name, units, roles, rate, burst)");
        }
    }
    KeyHolder h;
    h.line = e.Mark().line + 1;
    const auto scalar = [&](const char* field) {
        const YAML::Node n = e[field];
        return n && n.IsScalar() ? n.as<std::string>() : std::string();
    };
    h.key = scalar("key");
    if (!is_key_text(h.key)) {
        p.add(e,
              "key must be a client's public key: 40 Z85 characters, the text of the NAME.pub "
              "that slotmatch keygen wrote");
    }
    const auto channel = channel_named(scalar("channel"));
    if (!channel) {
        p.add(e, "channel must be web, proxy, staff or engine");
    } else {
        h.channel = *channel;
    }
    h.actor = scalar("actor");
    if (h.actor.empty() || h.actor.size() > ActorText::capacity()) {
        p.add(e, "actor is required, at most " + std::to_string(ActorText::capacity()) + " bytes");
    }
    h.name = scalar("name");
    if (h.name.size() > ActorName::capacity()) {
        p.add(e, "name is at most " + std::to_string(ActorName::capacity()) + " bytes");
    }
    if (h.name.empty() && h.channel != KeyChannel::engine) {
        p.add(e, "name is required: it is shown as \"changed by\" (R17)");
    }
    h.units = text_list(e["units"], "units", p);
    for (const std::string& u : h.units) {
        if (!unit_of) break;
        if (const auto idx = unit_of(u)) {
            h.unit_index.push_back(*idx);
        } else {
            p.add(e["units"], "no unit '" + u + "' in the region");
        }
    }
    if (h.channel == KeyChannel::staff && h.units.empty()) {
        p.add(e, "a staff key lists the units it may act from (units: [...])");
    }
    if ((h.channel == KeyChannel::web || h.channel == KeyChannel::engine) && !h.units.empty()) {
        p.add(e["units"], "a " + std::string(name_of(h.channel)) + " key acts from no unit");
    }
    for (const std::string& role : text_list(e["roles"], "roles", p)) {
        if (role != "region-admin") {
            p.add(e["roles"], "the one role is region-admin");
        } else if (h.channel != KeyChannel::staff) {
            p.add(e["roles"], "region-admin is a role of staff keys");
        } else {
            h.region_admin = true;
        }
    }
    if (const YAML::Node r = e["rate"]) {
        if (const auto v = positive_number(r, "rate", p)) {
            h.rate = *v;
            h.burst = std::max(1.0, 2 * *v);
        }
    }
    if (const YAML::Node b = e["burst"]) {
        if (const auto v = positive_number(b, "burst", p)) h.burst = std::max(1.0, *v);
    }
    if (p.list.size() != problems_before) return std::nullopt;
    h.acts_as = "this key acts as " + h.actor + " (clients.yaml): leave --actor out, or give that";
    std::string units;
    for (const std::string& u : h.units) units += (units.empty() ? "" : ", ") + u;
    h.acts_from = "this key may act from these units only: " + (units.empty() ? "none" : units);
    return h;
}

}  // namespace

std::unique_ptr<const KeyRegistry> KeyRegistry::load(const std::string& path,
                                                     const UnitLookup& units, std::string& why) {
    // Any shape yaml-cpp cannot convert (a map key that is a list, say) is a mistake in the file
    // like any other: refused whole, never an exception that ends the program on a reload.
    try {
        return read(path, units, why);
    } catch (const YAML::Exception& e) {
        why = path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg;
        return nullptr;
    }
}

std::unique_ptr<const KeyRegistry> KeyRegistry::read(const std::string& path,
                                                     const UnitLookup& units, std::string& why) {
    YAML::Node root;
    try {
        root = YAML::LoadFile(path);
    } catch (const YAML::BadFile&) {
        why = "cannot read " + path;
        return nullptr;
    } catch (const YAML::Exception& e) {
        why = path + ": " + e.what();
        return nullptr;
    }
    Problems p{path, {}};
    const YAML::Node clients = root.IsMap() ? root["clients"] : YAML::Node();
    if (!clients || !(clients.IsSequence() || clients.IsNull())) {
        why = path + ": expected 'clients:' and a list of keys (ARCHITECTURE.md, \"Keys\")";
        return nullptr;
    }
    auto registry = std::unique_ptr<KeyRegistry>(new KeyRegistry);
    if (clients.IsSequence()) {
        for (const YAML::Node& e : clients) {
            if (auto h = read_entry(e, units, p)) registry->holders_.push_back(std::move(*h));
        }
    }
    for (std::size_t i = 0; i < registry->holders_.size(); ++i) {
        const KeyHolder& h = registry->holders_[i];
        if (!registry->by_key_.emplace(h.key, i).second) {
            p.list.push_back(path + ":" + std::to_string(h.line) + ": the key " + h.key +
                             " is listed twice");
        }
    }
    if (!p.list.empty()) {
        why.clear();
        for (const std::string& s : p.list) why += (why.empty() ? "" : "\n") + s;
        return nullptr;
    }
    return registry;
}

const KeyHolder* KeyRegistry::find(std::string_view public_key) const {
    const auto it = by_key_.find(public_key);
    return it == by_key_.end() ? nullptr : &holders_[it->second];
}

std::unique_ptr<KeyRing> KeyRing::open(std::string path, UnitLookup units, std::string& why) {
    auto ring = std::unique_ptr<KeyRing>(new KeyRing(std::move(path), std::move(units)));
    if (!ring->reload(why)) return nullptr;
    return ring;
}

bool KeyRing::reload(std::string& why) {
    std::lock_guard lock(reloading_);
    auto next = KeyRegistry::load(path_, units_, why);
    if (!next) return false;
    loaded_.push_back(std::move(next));
    current_.store(loaded_.back().get(), std::memory_order_release);
    return true;
}

}  // namespace slotmatch::keys
