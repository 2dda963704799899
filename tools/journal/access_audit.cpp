#include "access_audit.hpp"

namespace slotmatch::journal {

PatientKey audit_patient(const Event& e) {
    switch (e.kind) {
        case EventKind::booked:
        case EventKind::rebooked:
        case EventKind::cancelled:
        case EventKind::held:
        case EventKind::waitlist_added:
        case EventKind::returned_to_waitlist:
        case EventKind::waitlist_removed:
        case EventKind::accessed:
            return e.patient;
        default:
            return PatientKey{};
    }
}

std::string_view audit_action(const Event& e) {
    switch (e.kind) {
        case EventKind::booked:
            return "book";
        case EventKind::rebooked:
            return "rebook";
        case EventKind::cancelled:
            return "cancel";
        case EventKind::held:
            return "hold";
        case EventKind::waitlist_added:
            return "waitlist_add";
        case EventKind::returned_to_waitlist:
            return "waitlist_return";
        case EventKind::waitlist_removed:
            return "waitlist_remove";
        case EventKind::accessed:
            return to_string(e.action);
        default:
            return to_string(e.kind);
    }
}

}  // namespace slotmatch::journal
