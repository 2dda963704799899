#include "key_actor.hpp"

namespace slotmatch::keys {

namespace {

std::optional<Channel> channel_of(KeyChannel c) {
    switch (c) {
        case KeyChannel::web:
            return Channel::web;
        case KeyChannel::proxy:
            return Channel::proxy;
        case KeyChannel::staff:
            return Channel::staff;
        case KeyChannel::engine:
            break;
    }
    return std::nullopt;
}

std::string_view registered_for(Channel c) {
    switch (c) {
        case Channel::web:
            return "this key is registered for the web channel";
        case Channel::proxy:
            return "this key is registered for the proxy channel";
        case Channel::staff:
            return "this key is registered for the staff channel";
    }
    return "this key is registered for another channel";
}

}  // namespace

// The key's own actor: its channel, id, name and roles, acting from its unit when it has one.
Actor key_actor(const KeyHolder& key) {
    Actor actor;
    actor.channel = channel_of(key.channel).value_or(Channel::web);
    actor.id = ActorText::from(key.actor);
    actor.name = ActorName::from(key.name);
    actor.region_admin = key.region_admin;
    if (key.unit_index.size() == 1) {
        actor.has_unit = true;
        actor.unit = key.unit_index[0];
    }
    return actor;
}

Outcome<Actor> actor_of(const wire::Actor* requested, const KeyHolder& key,
                        const Catalog& catalog) {
    const auto invalid = [](std::string_view field, std::string_view why) {
        return Outcome<Actor>::refuse(ErrorCode::invalid_request, field, why);
    };
    const auto unauthorized = [](std::string_view field, std::string_view why) {
        return Outcome<Actor>::refuse(ErrorCode::unauthorized, field, why);
    };
    if (!channel_of(key.channel)) {
        return unauthorized("channel",
                            "this key is a slotmatchd's (channel engine), for the "
                            "journal link only");
    }
    Actor actor = key_actor(key);
    // The request's fields, malformed ones first (INVALID_REQUEST comes before UNAUTHORIZED).
    const auto wire_channel = codec::from_wire(requested->channel());
    if (!wire_channel) return invalid("channel", "channel must be web, proxy or staff");
    std::optional<UnitIdx> unit;
    if (requested->unit() && requested->unit()->size() > 0) {
        unit = catalog.find_unit(requested->unit()->str());
        if (!unit) return invalid("actor_unit", "no unit with this id");
    }
    bool admin_asked = false;
    if (requested->roles()) {
        for (const flatbuffers::String* role : *requested->roles()) {
            if (role->string_view() != "region-admin") {
                return invalid("roles", "the one role is region-admin");
            }
            admin_asked = true;
        }
    }
    // Web is the schema's default: a request that names no channel takes the key's.
    if (*wire_channel != actor.channel && *wire_channel != Channel::web) {
        return unauthorized("channel", registered_for(actor.channel));
    }
    if (requested->id() && requested->id()->size() > 0 &&
        requested->id()->string_view() != key.actor) {
        return unauthorized("actor", key.acts_as);
    }
    if (unit) {
        if (!key.may_act_from(*unit)) {
            return unauthorized("actor_unit", key.acts_from);
        }
        actor.has_unit = true;
        actor.unit = *unit;
    }
    if (admin_asked && !key.region_admin) {
        return unauthorized("roles", "this key has no region-admin role");
    }
    return {ErrorCode::ok, {}, {}, actor};
}

}  // namespace slotmatch::keys
