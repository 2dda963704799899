// Staff operations on the appointment book: blocking events, schedule changes, the waitlist,
// and the expiry of holds. These take the admin mutex among themselves (they are rare); the
// booking paths never do, and race with them only through the slot words.
#include "engine_records.hpp"

namespace slotmatch {

// R14: a blocking event makes the free slots it covers unbookable at once. Booked and held
// slots stay with their patients (the staff contact them); they come back blocked if cancelled.
Outcome<BlockResult> Engine::block(const Actor& actor, ResourceIdx resource, Instant from,
                                   Instant to, std::string_view reason) {
    using Out = Outcome<BlockResult>;
    Reservation reservation(*events_, 1);
    if (!reservation.ok()) return Out::refuse(ErrorCode::overloaded, "", "event buffer full");
    if (auto bad = check_actor(actor); !bad.ok()) return Out::refuse(bad);
    if (resource.value >= catalog_.resources.size()) {
        return Out::refuse(ErrorCode::invalid_request, "resource", "unknown resource");
    }
    if (from.value >= to.value)
        return Out::refuse(ErrorCode::invalid_request, "to", "must be after from");
    if (!ReasonText::fits(reason))
        return Out::refuse(ErrorCode::invalid_request, "reason", "too long");
    const UnitIdx unit = catalog_.resource(resource).unit;
    if (!staff_of(actor, unit)) {
        return Out::refuse(ErrorCode::unauthorized, "resource",
                           "only the unit's staff block slots");
    }
    std::lock_guard admin(admin_mutex_);
    auto idx = blocks_->allocate();
    if (!idx) {
        return Out::refuse(ErrorCode::overloaded, "",
                           "block table full: as many blocks are active as slotmatchd has room "
                           "for (its start says how many); unblock some, or wait for past ones "
                           "to end");
    }
    BlockRecord& k = (*blocks_)[*idx];
    const std::uint32_t generation = k.generation.load(std::memory_order_relaxed);
    k.generation.store(generation + 1, std::memory_order_relaxed);
    k.resource.store(resource.value, std::memory_order_release);  // a seqlock, as fill_waiting
    k.from.store(from.value, std::memory_order_release);
    k.to.store(to.value, std::memory_order_release);
    k.generation.store(generation + 2, std::memory_order_release);
    k.active.store(true, word_order);
    // Registered before the scan: a cancel that frees a covered slot after the scan passed it
    // sees this block when it settles the slot.
    active_blocks_per_resource_[resource.value].fetch_add(1, word_order);

    BlockResult result{block_id(*idx, generation + 2), 0, 0};
    const Instant now = clock_.now();
    for_each_overlapping(index_, resource, from, to, [&](SlotId s) {
        SlotRecord& rec = index_.record(s);
        std::uint64_t w = rec.word.load(word_order);
        while (open(w, now)) {
            if (rec.word.compare_exchange_weak(w, SlotWord::next(w, SlotState::blocked, *idx),
                                               word_order)) {
                ++result.slots_changed;
                return;
            }
        }
        if (SlotWord::state(w) != SlotState::blocked) ++result.reserved_untouched;
    });
    Event& e = reservation.event();
    stamp(e, actor, EventKind::blocked, unit);
    e.resource = resource;
    e.block = result.id;
    e.from = from;
    e.to = to;
    e.reason = ReasonText::from(reason);
    reservation.publish();
    return {ErrorCode::ok, {}, {}, result};
}

Outcome<BlockResult> Engine::unblock(const Actor& actor, BlockId block) {
    using Out = Outcome<BlockResult>;
    Reservation reservation(*events_, 1);
    if (!reservation.ok()) return Out::refuse(ErrorCode::overloaded, "", "event buffer full");
    if (auto bad = check_actor(actor); !bad.ok()) return Out::refuse(bad);
    const std::uint64_t i = index_of(block);
    if (block.value == 0 || i >= blocks_->handed_out()) {
        return Out::refuse(ErrorCode::invalid_request, "block", "no such blocking event");
    }
    std::lock_guard admin(admin_mutex_);  // blocks start and end only under it
    const BlockRecord& k = (*blocks_)[i];
    if (k.generation.load(std::memory_order_relaxed) != generation_of(block)) {
        return Out::refuse(ErrorCode::invalid_request, "block",
                           "no such blocking event (it ended, or was never made)");
    }
    const UnitIdx unit =
        catalog_.resource(ResourceIdx{k.resource.load(std::memory_order_relaxed)}).unit;
    if (!staff_of(actor, unit)) {
        return Out::refuse(ErrorCode::unauthorized, "block", "only the unit's staff unblock slots");
    }
    const auto span = active_block(i);
    if (!span) return Out::refuse(ErrorCode::invalid_request, "block", "already unblocked");
    return {ErrorCode::ok, {}, {}, end_block(actor, *span, reservation)};
}

BlockResult Engine::end_block(const Actor& actor, const BlockSpan& block,
                              Reservation& reservation) {
    const std::uint64_t i = index_of(block.id);
    BlockRecord& k = (*blocks_)[i];
    k.active.store(false, word_order);  // before the scan; see settle()
    active_blocks_per_resource_[block.resource.value].fetch_sub(1, word_order);
    BlockResult result{block.id, 0, 0};
    // R13: slots this block held become visible again (or stay under another active block).
    for_each_overlapping(index_, block.resource, block.from, block.to, [&](SlotId s) {
        SlotRecord& rec = index_.record(s);
        const std::uint64_t w = rec.word.load(word_order);
        if (SlotWord::state(w) == SlotState::blocked && SlotWord::owner(w) == i &&
            settle(rec, w) != w) {
            ++result.slots_changed;
        }
    });
    Event& e = reservation.event();
    stamp(e, actor, EventKind::unblocked, catalog_.resource(block.resource).unit);
    e.resource = block.resource;
    e.block = block.id;
    e.from = block.from;
    e.to = block.to;
    reservation.publish();
    // No slot names the record now; a lagging reader sees it inactive, or whole in a later life.
    if (k.generation.load(std::memory_order_relaxed) < booking_generation_limit) {
        blocks_->release(i);
    }
    return result;
}

std::size_t Engine::end_past_blocks() {
    std::lock_guard admin(admin_mutex_);
    const Instant now = clock_.now();
    std::size_t ended = 0;
    for (std::uint64_t i = 0; i < blocks_->handed_out(); ++i) {
        const auto span = active_block(i);
        if (!span || span->to.value > now.value) continue;
        Reservation reservation(*events_, 1);
        if (!reservation.ok()) break;  // the journal is behind; the next sweep goes on
        end_block(sweep_actor(), *span, reservation);
        ++ended;
    }
    return ended;
}

// R13: a slot added directly in the calendar is visible at once.
Outcome<SlotView> Engine::publish_slot(const Actor& actor, ResourceIdx resource, TypeIdx type,
                                       Instant start) {
    using Out = Outcome<SlotView>;
    Reservation reservation(*events_, 1);
    if (!reservation.ok()) return Out::refuse(ErrorCode::overloaded, "", "event buffer full");
    if (auto bad = check_actor(actor); !bad.ok()) return Out::refuse(bad);
    if (resource.value >= catalog_.resources.size()) {
        return Out::refuse(ErrorCode::invalid_request, "resource", "unknown resource");
    }
    const UnitIdx unit = catalog_.resource(resource).unit;
    if (auto bad = check_type_in_unit(type, unit); !bad.ok()) return Out::refuse(bad);
    if (!staff_of(actor, unit)) {
        return Out::refuse(ErrorCode::unauthorized, "resource",
                           "only the unit's staff publish slots");
    }
    if (start.value <= clock_.now().value) {
        return Out::refuse(ErrorCode::slot_has_passed, "start", "the start has passed");
    }
    std::lock_guard admin(admin_mutex_);
    const int duration_min = type_now(type).duration_min;
    const Instant end{start.value + duration_min * seconds_per_minute};
    if (index_.overlapping(resource, start, end, std::nullopt)) {
        return Out::refuse(ErrorCode::invalid_request, "start",
                           "the resource already has a slot at that time");
    }
    if (orphan_in_the_way(resource, start, end)) {
        return Out::refuse(ErrorCode::slot_already_reserved, "start", orphan_text);
    }
    auto slot = index_.add_slot(resource, type, start, duration_min);
    if (!slot) return Out::refuse(ErrorCode::overloaded, "", "no room for more published slots");
    const std::uint64_t after =
        settle(index_.record(*slot), index_.record(*slot).word.load(word_order));
    Event& e = reservation.event();
    stamp(e, actor, EventKind::slot_published, unit);
    e.resource = resource;
    e.type = type;
    e.after = snapshot(*slot, after);
    reservation.publish();
    return {ErrorCode::ok, {}, {}, view(*slot)};
}

// R13: a schedule change swaps a free slot's appointment type; it shows under the new one at
// once. The slot is claimed through its word while it moves between shards.
Outcome<SlotView> Engine::change_slot_type(const Actor& actor, SlotId slot, TypeIdx type) {
    using Out = Outcome<SlotView>;
    Reservation reservation(*events_, 1);
    if (!reservation.ok()) return Out::refuse(ErrorCode::overloaded, "", "event buffer full");
    if (auto bad = check_actor(actor); !bad.ok()) return Out::refuse(bad);
    if (!index_.contains(slot))
        return Out::refuse(ErrorCode::invalid_request, "slot", "unknown slot");
    SlotRecord& rec = index_.record(slot);
    const UnitIdx unit = catalog_.resource(ResourceIdx{rec.resource}).unit;
    if (auto bad = check_type_in_unit(type, unit); !bad.ok()) return Out::refuse(bad);
    if (rec.type.load(std::memory_order_relaxed) == type.value) {
        return Out::refuse(ErrorCode::invalid_request, "appointment_type",
                           "the slot already has that type");
    }
    if (!staff_of(actor, unit)) {
        return Out::refuse(ErrorCode::unauthorized, "slot",
                           "only the unit's staff change schedules");
    }
    std::lock_guard admin(admin_mutex_);
    const Instant now = clock_.now();
    std::uint64_t w = rec.word.load(word_order);
    std::uint64_t claimed = 0;
    do {
        if (SlotWord::state(w) == SlotState::blocked || covered(rec)) {
            return Out::refuse(ErrorCode::slot_not_available, "slot", "blocked or removed");
        }
        if (!open(w, now)) {
            return Out::refuse(ErrorCode::slot_already_reserved, "slot", "the slot is taken");
        }
        claimed = SlotWord::next(w, SlotState::blocked, SlotWord::owner_removed);
    } while (!rec.word.compare_exchange_weak(w, claimed, word_order));
    const SlotSnapshot before = snapshot(slot, w);  // with the old type
    index_.move_slot(slot, type);
    rec.word.store(SlotWord::next(claimed, SlotState::free, 0), word_order);  // ours while claimed
    const std::uint64_t after = settle(rec, rec.word.load(word_order));

    Event& e = reservation.event();
    stamp(e, actor, EventKind::slot_type_changed, unit);
    e.resource = ResourceIdx{rec.resource};
    e.type = type;
    e.before = before;
    e.after = snapshot(slot, after);
    reservation.publish();
    return {ErrorCode::ok, {}, {}, view(slot)};
}

// R14: removing an appointment type from a unit's schedule entirely makes its free slots
// disappear; booked ones stay booked and are removed when they are cancelled.
Outcome<BlockResult> Engine::remove_type(const Actor& actor, UnitIdx unit, TypeIdx type) {
    using Out = Outcome<BlockResult>;
    Reservation reservation(*events_, 1);
    if (!reservation.ok()) return Out::refuse(ErrorCode::overloaded, "", "event buffer full");
    if (auto bad = check_actor(actor); !bad.ok()) return Out::refuse(bad);
    if (unit.value >= catalog_.units.size()) {
        return Out::refuse(ErrorCode::invalid_request, "unit", "unknown unit");
    }
    if (auto bad = check_type_in_unit(type, unit); !bad.ok()) return Out::refuse(bad);
    if (!staff_of(actor, unit)) {
        return Out::refuse(ErrorCode::unauthorized, "unit",
                           "only the unit's staff change schedules");
    }
    std::lock_guard admin(admin_mutex_);
    const BlockResult result = take_type_off(actor, unit, type, reservation.event());
    reservation.publish();
    return {ErrorCode::ok, {}, {}, result};
}

BlockResult Engine::take_type_off(const Actor& actor, UnitIdx unit, TypeIdx type, Event& e) {
    BlockResult result;
    const Instant now = clock_.now();
    for (ResourceIdx r : catalog_.unit(unit).resources) {
        Shard* shard = index_.shard(r, type);
        if (shard == nullptr) continue;
        index_.for_each_between(*shard, Instant{now.value + 1}, end_of_time, [&](SlotId s) {
            SlotRecord& rec = index_.record(s);
            if (rec.type.load(std::memory_order_relaxed) != type.value) return true;
            if (take_off(s, now) == 1) {
                ++result.slots_changed;
            } else if (SlotWord::state(rec.word.load(word_order)) != SlotState::blocked) {
                ++result.reserved_untouched;
            }
            return true;
        });
    }
    stamp(e, actor, EventKind::slot_removed, unit);
    e.time = now;  // slots starting after it were removed: recovery removes the same
    e.type = type;
    e.schedule.group_first = static_cast<std::uint32_t>(index_.size());  // those that existed
    return result;
}

// ---- waitlist ----------------------------------------------------------------------------

std::optional<WaitlistView> Engine::waiting_at(std::uint64_t index) const {
    const WaitlistRecord& w = (*waitlist_)[index];
    for (;;) {
        const std::uint32_t before = w.generation.load(std::memory_order_acquire);
        if (before % 2 != 0) continue;  // its writer is between two stores: a moment
        if (w.state.load(std::memory_order_acquire) != WaitlistState::waiting) return std::nullopt;
        WaitlistView v{waitlist_entry_id(index, before),
                       UnitIdx{w.unit.load(std::memory_order_acquire)},
                       TypeIdx{w.type.load(std::memory_order_acquire)},
                       PatientKey{w.patient.load(std::memory_order_acquire)},
                       Instant{w.added_at.load(std::memory_order_acquire)}};
        if (w.generation.load(std::memory_order_relaxed) == before) return v;
    }
}

std::optional<std::uint64_t> Engine::find_waiting(UnitIdx unit, TypeIdx type, PatientKey p) const {
    for (std::uint64_t i = 0; i < waitlist_->handed_out(); ++i) {
        const auto w = waiting_at(i);
        if (w && w->unit == unit && w->type == type && w->patient == p) return i;
    }
    return std::nullopt;
}

std::optional<std::uint64_t> Engine::add_waiting(UnitIdx unit, TypeIdx type, PatientKey p,
                                                 Instant added_at) {
    auto idx = waitlist_->allocate();
    if (idx) fill_waiting(*idx, unit, type, p, added_at);
    return idx;
}

void Engine::fill_waiting(std::uint64_t index, UnitIdx unit, TypeIdx type, PatientKey p,
                          Instant added_at) {
    WaitlistRecord& w = (*waitlist_)[index];
    const std::uint32_t generation = w.generation.load(std::memory_order_relaxed);
    w.generation.store(generation + 1, std::memory_order_relaxed);
    // Release stores (no fences: ThreadSanitizer does not model them): a reader whose acquire
    // load sees one of these sees the odd generation after it.
    w.unit.store(unit.value, std::memory_order_release);
    w.type.store(type.value, std::memory_order_release);
    w.patient.store(p.value, std::memory_order_release);
    w.added_at.store(added_at.value, std::memory_order_release);
    w.generation.store(generation + 2, std::memory_order_release);
    w.state.store(WaitlistState::waiting, std::memory_order_release);
}

// The entry ends and its record goes back to the table (unless its ids would run out).
void Engine::end_waiting(std::uint64_t index) {
    WaitlistRecord& w = (*waitlist_)[index];
    SM_ASSERT(w.state.load(std::memory_order_relaxed) == WaitlistState::waiting);
    w.state.store(WaitlistState::removed, std::memory_order_release);
    if (w.generation.load(std::memory_order_relaxed) < booking_generation_limit) {
        waitlist_->release(index);
    }
}

Outcome<WaitlistView> Engine::waitlist_add(const Actor& actor, UnitIdx unit, TypeIdx type,
                                           PatientKey patient) {
    using Out = Outcome<WaitlistView>;
    Reservation reservation(*events_, 1);
    if (!reservation.ok()) return Out::refuse(ErrorCode::overloaded, "", "event buffer full");
    if (auto bad = check_request_patient(actor, patient); !bad.ok()) return Out::refuse(bad);
    if (unit.value >= catalog_.units.size()) {
        return Out::refuse(ErrorCode::invalid_request, "unit", "unknown unit");
    }
    if (auto bad = check_type_in_unit(type, unit); !bad.ok()) return Out::refuse(bad);
    if (!staff_of(actor, unit)) {
        return Out::refuse(ErrorCode::unauthorized, "unit",
                           "only the unit's staff keep its waitlist");
    }
    PatientRecord* p = patients_->get_or_create(patient);
    if (p == nullptr) return Out::refuse(ErrorCode::overloaded, "", "patient table full");
    PatientClaim claim(*p);
    auto idx = find_waiting(unit, type, patient);  // adding twice is harmless: same entry
    if (!idx) {
        const Instant now = clock_.now();
        idx = add_waiting(unit, type, patient, now);
        if (!idx) return Out::refuse(ErrorCode::overloaded, "", waitlist_full_text);
        Event& e = reservation.event();
        stamp(e, actor, EventKind::waitlist_added, unit);
        e.time = now;  // the entry's "added at", which recovery restores
        e.patient = patient;
        e.type = type;
        e.entry = waiting_at(*idx)->id;
        e.waitlisted_at = now;
        reservation.publish();
    }
    return {ErrorCode::ok, {}, {}, *waiting_at(*idx)};  // stable under the patient's claim
}

Outcome<WaitlistView> Engine::waitlist_remove(const Actor& actor, WaitlistEntryId entry) {
    using Out = Outcome<WaitlistView>;
    Reservation reservation(*events_, 1);
    if (!reservation.ok()) return Out::refuse(ErrorCode::overloaded, "", "event buffer full");
    if (auto bad = check_actor(actor); !bad.ok()) return Out::refuse(bad);
    const auto gone =
        Out::refuse(ErrorCode::invalid_request, "entry",
                    "no such waitlist entry (taken off, or booked from the waitlist)");
    const std::uint64_t i = index_of(entry);
    if (entry.value == 0 || i >= waitlist_->handed_out()) return gone;
    const auto seen = waiting_at(i);
    if (!seen || seen->id != entry) return gone;
    if (!staff_of(actor, seen->unit)) {
        return Out::refuse(ErrorCode::unauthorized, "entry",
                           "only the unit's staff keep its waitlist");
    }
    PatientRecord* p = patients_->find(seen->patient);
    SM_ASSERT(p != nullptr);  // made by the entry, and never removed
    PatientClaim claim(*p);
    const auto now_seen = waiting_at(i);  // stable under the claim
    if (!now_seen || now_seen->id != entry) return gone;
    end_waiting(i);
    Event& e = reservation.event();
    stamp(e, actor, EventKind::waitlist_removed, now_seen->unit);
    e.patient = now_seen->patient;
    e.type = now_seen->type;
    e.entry = entry;
    e.waitlisted_at = now_seen->added_at;
    reservation.publish();
    return {ErrorCode::ok, {}, {}, *now_seen};
}

Outcome<std::vector<WaitlistView>> Engine::waitlist(const Actor& actor, UnitIdx unit) const {
    using Out = Outcome<std::vector<WaitlistView>>;
    if (auto bad = check_actor(actor); !bad.ok()) return Out::refuse(bad);
    if (unit.value >= catalog_.units.size()) {
        return Out::refuse(ErrorCode::invalid_request, "unit", "unknown unit");
    }
    if (!staff_of(actor, unit)) {
        return Out::refuse(ErrorCode::unauthorized, "unit",
                           "only the unit's staff see its waitlist");
    }
    Out out;
    for (std::uint64_t i = 0; i < waitlist_->handed_out(); ++i) {
        if (const auto w = waiting_at(i); w && w->unit == unit) out.value.push_back(*w);
    }
    // R22: in the order the patients were put on it (records are reused in any order).
    std::sort(out.value.begin(), out.value.end(), [](const WaitlistView& a, const WaitlistView& b) {
        return std::tie(a.added_at.value, a.id.value) < std::tie(b.added_at.value, b.id.value);
    });
    return out;
}

// ---- hold expiry -------------------------------------------------------------------------

// Walks the holds in the order they were made (one TTL: the order they expire) and stops at
// the first still alive. A hold whose slot it still holds is ended (hold_expired, the slot to
// rest); one that became a booking, or whose slot was taken after it expired, is already over.
// Either way its record is then released for reuse.
std::size_t Engine::expire_holds() {
    std::lock_guard admin(admin_mutex_);
    const Instant now = clock_.now();
    std::size_t expired = 0;
    for (; hold_queue_head_ < hold_queue_tail_.load(std::memory_order_acquire);
         ++hold_queue_head_) {
        std::atomic<std::uint64_t>& entry = (*hold_queue_)[hold_queue_head_ % hold_queue_->size()];
        const std::uint64_t queued = entry.load(std::memory_order_acquire);
        if (queued == 0) break;  // its producer is still writing it; the next sweep looks again
        const std::uint64_t i = queued - 1;
        HoldRecord& h = (*holds_)[i];
        if (h.expires_at.load(std::memory_order_acquire) > now.value) break;
        const SlotId slot{h.slot.load(std::memory_order_acquire)};
        SlotRecord& rec = index_.record(slot);
        std::uint64_t w = rec.word.load(word_order);
        while (SlotWord::state(w) == SlotState::held && SlotWord::owner(w) == i) {
            Reservation reservation(*events_, 1);
            if (!reservation.ok()) return expired;  // the journal is behind; continue next time
            const std::uint64_t rest = rest_word(rec, w);
            if (rec.word.compare_exchange_weak(w, rest, word_order)) {
                const std::uint64_t after = settle(rec, rest);
                Event& e = reservation.event();
                stamp(e, sweep_actor(), EventKind::hold_expired,
                      catalog_.resource(ResourceIdx{rec.resource}).unit);
                e.resource = ResourceIdx{rec.resource};
                e.before = snapshot(slot, w);
                e.after = snapshot(slot, after);
                e.patient = PatientKey{h.patient.load(std::memory_order_acquire)};
                reservation.publish();
                ++expired;
                break;
            }
        }
        // No word names the hold now: old hold ids stop reaching the record, and it is reused.
        // The generation moves on first: a reader that sees `live` false then sees it moved.
        entry.store(0, std::memory_order_relaxed);
        const std::uint32_t next = h.generation.load(std::memory_order_relaxed) + 1;
        h.generation.store(next, std::memory_order_release);
        h.live.store(false, std::memory_order_release);
        if (next < hold_generation_limit) holds_->release(i);
    }
    return expired;
}

}  // namespace slotmatch
