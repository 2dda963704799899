#include "web_log.hpp"

#include <iostream>

#include "event_store.hpp"

namespace slotmatch::journal {

std::string_view to_string(LogStatus s) {
    switch (s) {
        case LogStatus::booked:
            return "Booked";
        case LogStatus::rebooked:
            return "Rebooked";
        case LogStatus::cancelled:
            return "Cancelled";
    }
    return "?";
}

namespace {

LogValues values_of(const Event& e, const SlotSnapshot& side, BookingId booking) {
    LogValues v;
    v.slot = side.slot;
    v.resource = e.resource;  // R16: a web rebooking stays on the resource
    v.type = side.type;
    v.start = side.start;
    v.booking = booking;
    v.phone = std::string(e.phone.view());
    v.reason = std::string(e.reason.view());
    return v;
}

}  // namespace

bool makes_log_row(const Event& e) {
    return e.channel == Channel::web &&  // R19: the citizen's own changes
           (e.kind == EventKind::booked || e.kind == EventKind::rebooked ||
            e.kind == EventKind::cancelled);
}

std::optional<LogRow> web_log_row(const Event& e) {
    if (!makes_log_row(e)) return std::nullopt;
    LogRow row;
    switch (e.kind) {
        case EventKind::booked:
            row.status = LogStatus::booked;
            row.after = values_of(e, e.after, e.booking);
            break;
        case EventKind::rebooked:
            row.status = LogStatus::rebooked;
            row.before = values_of(e, e.before, e.before.booking);
            row.after = values_of(e, e.after, e.booking);
            break;
        case EventKind::cancelled:
            row.status = LogStatus::cancelled;
            row.before = values_of(e, e.before, e.booking);
            break;
        default:
            return std::nullopt;
    }
    row.seq = e.seq;
    row.unit = e.unit;
    row.changed_at = e.time;
    row.changed_by = std::string(web_system_identity);  // R17
    row.patient = e.patient;
    row.billable = e.billable;  // R23
    return row;
}

bool add_log_row(const Event& e, std::vector<LogRow>& out, std::string& why) {
    auto row = web_log_row(e);
    if (!row) {
        why = "event " + std::to_string(e.seq) + " is in the web booking log but is no web change";
        return false;
    }
    out.push_back(std::move(*row));
    return true;
}

std::optional<Instant> LogPurgeSchedule::due(Instant now,
                                             std::chrono::steady_clock::time_point wall) {
    if (wall - checked_ < std::chrono::milliseconds(purge_check_ms)) return std::nullopt;
    checked_ = wall;
    const Instant cutoff{now.value - log_retention_s};
    if (last_cutoff_ && cutoff.value >= last_cutoff_->value &&
        cutoff.value - last_cutoff_->value < purge_step_s) {
        return std::nullopt;
    }
    if (last_cutoff_ && cutoff.value < last_cutoff_->value) {  // the clock went back
        last_cutoff_ = cutoff;
        return std::nullopt;
    }
    last_cutoff_ = cutoff;
    return cutoff;
}

void purge_if_due(EventStore& store, LogPurgeSchedule& schedule, Instant now, const char* who) {
    const auto cutoff = schedule.due(now, std::chrono::steady_clock::now());
    if (!cutoff) return;
    std::string why;
    if (!store.purge_web_log(*cutoff, why)) {
        std::cerr << who << ": purging the web booking log failed (retried): " << why << '\n';
        schedule.failed();
    }
}

}  // namespace slotmatch::journal
