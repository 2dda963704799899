#include <slotmatch/events.hpp>
#include <slotmatch/types.hpp>

namespace slotmatch {

std::string_view to_string(Channel c) {
    switch (c) {
        case Channel::web:
            return "web";
        case Channel::proxy:
            return "proxy";
        case Channel::staff:
            return "staff";
    }
    return "?";
}

std::string_view to_string(SlotState s) {
    switch (s) {
        case SlotState::free:
            return "free";
        case SlotState::held:
            return "held";
        case SlotState::booked:
            return "booked";
        case SlotState::blocked:
            return "blocked";
    }
    return "?";
}

std::string_view to_string(ErrorCode e) {
    switch (e) {
        case ErrorCode::ok:
            return "OK";
        case ErrorCode::overloaded:
            return "OVERLOADED";
        case ErrorCode::invalid_request:
            return "INVALID_REQUEST";
        case ErrorCode::unauthorized:
            return "UNAUTHORIZED";
        case ErrorCode::booking_not_found:
            return "BOOKING_NOT_FOUND";
        case ErrorCode::booking_already_cancelled:
            return "BOOKING_ALREADY_CANCELLED";
        case ErrorCode::appointment_not_allowed:
            return "APPOINTMENT_NOT_ALLOWED";
        case ErrorCode::cancel_not_allowed:
            return "CANCEL_NOT_ALLOWED";
        case ErrorCode::rebook_not_allowed:
            return "REBOOK_NOT_ALLOWED";
        case ErrorCode::slot_has_passed:
            return "SLOT_HAS_PASSED";
        case ErrorCode::slot_not_available:
            return "SLOT_NOT_AVAILABLE";
        case ErrorCode::hold_expired:
            return "HOLD_EXPIRED";
        case ErrorCode::slot_already_reserved:
            return "SLOT_ALREADY_RESERVED";
        case ErrorCode::patient_already_occupied:
            return "PATIENT_ALREADY_OCCUPIED";
    }
    return "?";
}

std::string_view to_string(EventKind k) {
    switch (k) {
        case EventKind::slot_published:
            return "slot_published";
        case EventKind::slot_removed:
            return "slot_removed";
        case EventKind::slot_type_changed:
            return "slot_type_changed";
        case EventKind::blocked:
            return "blocked";
        case EventKind::unblocked:
            return "unblocked";
        case EventKind::held:
            return "held";
        case EventKind::hold_expired:
            return "hold_expired";
        case EventKind::booked:
            return "booked";
        case EventKind::rebooked:
            return "rebooked";
        case EventKind::cancelled:
            return "cancelled";
        case EventKind::returned_to_waitlist:
            return "returned_to_waitlist";
        case EventKind::waitlist_added:
            return "waitlist_added";
        case EventKind::accessed:
            return "accessed";
        case EventKind::schedule_published:
            return "schedule_published";
        case EventKind::schedule_extended:
            return "schedule_extended";
        case EventKind::schedule_ended:
            return "schedule_ended";
        case EventKind::entity_recorded:
            return "entity_recorded";
        case EventKind::one_slot_removed:
            return "one_slot_removed";
        case EventKind::type_changed:
            return "type_changed";
        case EventKind::unit_changed:
            return "unit_changed";
        case EventKind::waitlist_removed:
            return "waitlist_removed";
        case EventKind::schedule_changed:
            return "schedule_changed";
    }
    return "?";
}

std::string_view to_string(EntityKind k) {
    switch (k) {
        case EntityKind::none:
            return "none";
        case EntityKind::unit:
            return "unit";
        case EntityKind::resource:
            return "resource";
        case EntityKind::type:
            return "appointment_type";
    }
    return "?";
}

std::string_view to_string(AccessAction a) {
    switch (a) {
        case AccessAction::none:
            return "none";
        case AccessAction::hold:
            return "hold";
        case AccessAction::book:
            return "book";
        case AccessAction::rebook:
            return "rebook";
        case AccessAction::cancel:
            return "cancel";
        case AccessAction::bookings:
            return "bookings";
        case AccessAction::waitlist_add:
            return "waitlist_add";
        case AccessAction::booking:
            return "booking";
    }
    return "?";
}

}  // namespace slotmatch
