// Who a request acts as when it arrived under a registered key (ARCHITECTURE.md, "Keys"): the
// key decides the channel, actor id, display name, units and roles; the request's own actor
// fields may only narrow them (a staff key acting from one of its units).
#pragma once

#include <slotmatch/codec.hpp>

#include "key_registry.hpp"

namespace slotmatch::keys {

// The key's own actor: its channel, id, name and roles, acting from its unit when it has one.
Actor key_actor(const KeyHolder& key);

// The actor of a request under `key`. INVALID_REQUEST for a malformed actor (an unknown unit or
// role); UNAUTHORIZED for an engine key, another channel (web, the schema's default, counts as
// none named), another actor id, or a unit or role the key does not have. The request's display
// name is not used: the registry's is.
Outcome<Actor> actor_of(const wire::Actor* requested, const KeyHolder& key, const Catalog& catalog);

}  // namespace slotmatch::keys
