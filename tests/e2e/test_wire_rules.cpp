// Every booking rule the engine implements (DOMAIN.md R2-R25, R12 aside: a config lint), proved
// over the wire: a real slotmatchd process, real ZeroMQ sockets, FlatBuffers bytes built and read
// by the client library. The scenarios mirror tests/engine/test_rules.cpp, so a rule that holds in the
// engine but is lost in the codec, the service's mapping of requests or the client shows here.
//
// One server for the suite (starting one per test would dominate the run); each test uses its
// own slots (its own days, see the comment on each) and its own patients, and SetUp puts the
// fixed clock back to Monday 2026-03-02 07:00, so tests do not depend on their order.
#include <algorithm>
#include <memory>
#include <slotmatch/calendar.hpp>
#include <slotmatch/patient.hpp>

#include "e2e/server_process.hpp"
#include "engine_fixture.hpp"
#include "report.hpp"

namespace slotmatch::testing {
namespace {

namespace fb = flatbuffers;

constexpr int timeout_ms = 5000;
constexpr const char* base_clock = "2026-03-02T07:00:00+01:00";

// A second, small region for what the rule region cannot show: a proxy type that is not web
// bookable (R2 applies to proxies too; the loader only warns, R8), a type configured with its
// web flags *and* "hide from patient" (R6: loading must clear the flags), and Sunday slots,
// because the daylight-saving nights are Saturday to Sunday and a 24-hour span across one needs
// a visit on the Sunday (R23).
const char* const extra_region_yaml = R"(
timezone: Europe/Stockholm
hold_ttl_s: 300
appointment_types:
  - {id: ombud-off, name: Ombud stängd, web_name: Stängd via 1177, web_bookable: false,
     web_cancellable: true, web_rebookable: true, duration_min: 15}
providers:
  - id: px
    name: Region Extra
    units:
      - id: ux
        name: Vårdcentralen Söndag
        web: {booking_active: true, cancel_rebook_active: true, patient_comment: false}
        resources:
          - {id: rx, type: person, name: Sara Sund}
        appointment_types:
          - {id: sunday, name: Söndagsmottagning, web_name: Söndagsmottagning, web_bookable: true,
             web_cancellable: true, web_rebookable: true, duration_min: 30}
          - {id: hidflags, name: Samtal, web_name: Samtal, web_bookable: true,
             web_cancellable: true, web_rebookable: true, hide_from_patient: true,
             duration_min: 30}
        schedules:
          - {resource: rx, appointment_type: sunday, weekdays: [sun], from: "12:00", to: "13:00",
             valid_from: 2026-03-01, valid_to: 2026-10-31}
          - {resource: rx, appointment_type: hidflags, weekdays: [mon], from: "08:00",
             to: "09:00", valid_from: 2026-03-01, valid_to: 2026-10-31}
          - {resource: rx, appointment_type: ombud-off, weekdays: [tue], from: "08:00",
             to: "09:00", valid_from: 2026-03-01, valid_to: 2026-10-31}
)";

client::Identity web() {
    return {Channel::web, "1177-gateway", "", "", "e2e-rules"};
}
client::Identity proxy() {
    return {Channel::proxy, "1177-telefon", "1177 Vårdguiden på telefon", "", "e2e-rules"};
}
client::Identity staff(const char* unit = "u1") {
    return {Channel::staff, "vgr-abc123", "Karin Lind", unit, "e2e-rules"};
}

// Test patient n as the 12-digit text a client sends.
std::string pnr(int n) {
    return format_patient_id(patient(n));
}

Instant at(const char* iso) {
    static const Calendar calendar("Europe/Stockholm");
    const auto t = calendar.parse_time(iso);
    if (!t) ADD_FAILURE() << "not a time: " << iso;
    return t.value_or(Instant{0});
}

// One operation's reply. The bytes are copied out of the ZeroMQ message so that the views into
// them stay valid however the answer is moved.
class Answer {
  public:
    Answer() = default;
    explicit Answer(const std::optional<client::Reply>& reply) {
        if (!reply) return;
        const auto* data = static_cast<const std::uint8_t*>(reply->bytes.data());
        bytes_.assign(data, data + reply->bytes.size());
    }

    // "OK", the error code's name, or what went wrong with the message itself.
    std::string code() const {
        if (bytes_.empty()) return "NO_REPLY";
        if (message()->error()) {
            return std::string("MESSAGE_REFUSED:") +
                   wire::EnumNameErrorCode(message()->error()->code());
        }
        if (result() == nullptr) return "NOT_ONE_RESULT";
        if (result()->error()) return wire::EnumNameErrorCode(result()->error()->code());
        return "OK";
    }
    bool ok() const { return code() == "OK"; }
    std::string field() const {
        const wire::Error* e = result() ? result()->error() : nullptr;
        return e && e->field() ? e->field()->str() : "";
    }
    // For failure messages: the code and the server's explanation.
    std::string why() const {
        const wire::Error* e = result() ? result()->error() : nullptr;
        return code() + (e && e->message() ? ": " + e->message()->str() : "");
    }

    const wire::Result* result() const {
        if (bytes_.empty() || !message()->results() || message()->results()->size() != 1) {
            return nullptr;
        }
        return message()->results()->Get(0);
    }
    const wire::BookingReply* booking_reply() const {
        return result() ? result()->body_as_BookingReply() : nullptr;
    }
    const wire::Booking* booking() const {
        return booking_reply() ? booking_reply()->booking() : nullptr;
    }
    std::uint64_t booking_id() const { return booking() ? booking()->booking_id() : 0; }

  private:
    const wire::ReplyMessage* message() const {
        return fb::GetRoot<wire::ReplyMessage>(bytes_.data());
    }
    std::vector<std::uint8_t> bytes_;  // verified by the client library on receipt
};

// One slotmatchd and a connection to it, with one helper per request the rules need.
class Wire {
  public:
    Wire(const char* yaml, const char* stem)
        : server_({"--config", write_temp_file(stem, yaml), "--clock",
                   std::string("fixed:") + base_clock}) {
        if (server_.endpoint().empty()) return;
        connection_ = std::make_unique<client::Connection>(server_.endpoint());
        catalog_ = client::fetch_catalog(*connection_, web(), timeout_ms, why_down_);
    }

    bool up() const { return connection_ && catalog_; }
    std::string why_down() const { return why_down_ + "\n" + server_.output(); }
    const Catalog& catalog() const { return *catalog_; }

    template <typename Make>
    Answer call(const client::Identity& who, Make make) {
        request_.start();
        request_.add(make(request_.fbb()));
        const std::uint64_t id = client::new_request_id();
        return Answer(connection_->call(request_.finish(who, id), id, timeout_ms));
    }

    Answer set_clock(const char* iso) {
        // Any identity valid in both regions (staff name a unit, which is region-specific).
        return call(web(), [&](fb::FlatBufferBuilder& b) {
            return wire::CreateSetClock(b, b.CreateString(iso));
        });
    }

    // The free slots `who` is offered in `unit` from `from` to `to` (days, inclusive).
    std::vector<wire::Slot> find(const client::Identity& who, const char* unit, const char* from,
                                 const char* to, const char* type = nullptr,
                                 const char* resource = nullptr, unsigned limit = 1000) {
        const Answer a = call(who, [&](fb::FlatBufferBuilder& b) {
            const auto u = b.CreateString(unit);
            const auto t = type ? b.CreateString(type) : fb::Offset<fb::String>();
            const auto r = resource ? b.CreateString(resource) : fb::Offset<fb::String>();
            const auto f = from ? b.CreateString(from) : fb::Offset<fb::String>();
            const auto e = to ? b.CreateString(to) : fb::Offset<fb::String>();
            return wire::CreateFind(b, u, t, r, f, e, limit);
        });
        std::vector<wire::Slot> out;
        const auto* list = a.result() ? a.result()->body_as_SlotList() : nullptr;
        if (list == nullptr) {
            ADD_FAILURE() << "find in " << unit << " refused: " << a.why();
            return out;
        }
        if (list->slots()) {
            for (const wire::Slot* s : *list->slots()) out.push_back(*s);
        }
        return out;
    }

    // The id of the slot of `resource` and `type` in `unit` that starts at local time `iso`,
    // found by the unit's staff (who see every type of their unit, with no booking window).
    std::uint32_t slot(const char* unit, const char* resource, const char* type, const char* iso) {
        client::Identity who = staff(unit);
        const auto found = find(who, unit, iso, nullptr, type, resource, 1);
        if (found.empty() || found[0].start() != at(iso).value) {
            ADD_FAILURE() << "no free slot " << resource << " " << type << " " << iso;
            return 0xFFFF'FFFF;  // a slot id the server does not have
        }
        return found[0].slot_id();
    }

    Answer book(const client::Identity& who, std::uint32_t slot, const std::string& patient,
                const char* phone = nullptr, const char* reason = nullptr,
                bool from_waitlist = false) {
        return call(who, [&](fb::FlatBufferBuilder& b) {
            const auto p = b.CreateString(patient);
            const auto ph = phone ? b.CreateString(phone) : fb::Offset<fb::String>();
            const auto re = reason ? b.CreateString(reason) : fb::Offset<fb::String>();
            wire::BookBuilder book(b);
            book.add_slot(slot);
            book.add_patient(p);
            book.add_phone(ph);
            book.add_reason(re);
            book.add_from_waitlist(from_waitlist);
            return book.Finish();
        });
    }

    // `slot` absent: the earliest free slot allowed (the CLI's --first).
    Answer rebook(const client::Identity& who, std::uint64_t booking,
                  std::optional<std::uint32_t> slot, const std::string& patient) {
        return call(who, [&](fb::FlatBufferBuilder& b) {
            const auto p = patient.empty() ? fb::Offset<fb::String>() : b.CreateString(patient);
            wire::RebookBuilder rebook(b);
            rebook.add_booking(booking);
            if (slot) rebook.add_slot(*slot);
            rebook.add_patient(p);
            return rebook.Finish();
        });
    }

    Answer cancel(const client::Identity& who, std::uint64_t booking, const std::string& patient) {
        return call(who, [&](fb::FlatBufferBuilder& b) {
            return wire::CreateCancel(
                b, booking, patient.empty() ? fb::Offset<fb::String>() : b.CreateString(patient));
        });
    }

    // The ids of the bookings `who` is shown for `patient`.
    std::vector<std::uint64_t> bookings(const client::Identity& who, const std::string& patient) {
        const Answer a = call(who, [&](fb::FlatBufferBuilder& b) {
            return wire::CreateBookings(b, b.CreateString(patient));
        });
        std::vector<std::uint64_t> ids;
        const auto* list = a.result() ? a.result()->body_as_BookingList() : nullptr;
        if (list == nullptr) {
            ADD_FAILURE() << "bookings refused: " << a.why();
            return ids;
        }
        if (list->bookings()) {
            for (const wire::Booking* b : *list->bookings()) ids.push_back(b->booking_id());
        }
        return ids;
    }

    Answer block(const client::Identity& who, const char* resource, const char* from,
                 const char* to) {
        return call(who, [&](fb::FlatBufferBuilder& b) {
            const auto r = b.CreateString(resource);
            const auto f = b.CreateString(from);
            const auto t = b.CreateString(to);
            return wire::CreateBlock(b, r, f, t, b.CreateString("Utbildning"));
        });
    }
    Answer unblock(const client::Identity& who, std::uint64_t block) {
        return call(who, [&](fb::FlatBufferBuilder& b) { return wire::CreateUnblock(b, block); });
    }

    Answer waitlist_add(const client::Identity& who, const char* unit, const char* type,
                        const std::string& patient) {
        return call(who, [&](fb::FlatBufferBuilder& b) {
            const auto u = b.CreateString(unit);
            const auto t = b.CreateString(type);
            const auto p = b.CreateString(patient);
            return wire::CreateWaitlistAdd(b, u, t, p);
        });
    }
    // Whether test patient n waits for `type` in `unit` (asked by the unit's staff).
    bool on_waitlist(const char* unit, const char* type, int n) {
        const Answer a = call(staff(unit), [&](fb::FlatBufferBuilder& b) {
            return wire::CreateWaitlistList(b, b.CreateString(unit));
        });
        const auto* list = a.result() ? a.result()->body_as_WaitlistReply() : nullptr;
        if (list == nullptr) {
            ADD_FAILURE() << "waitlist list refused: " << a.why();
            return false;
        }
        if (!list->entries()) return false;
        return std::any_of(list->entries()->begin(), list->entries()->end(),
                           [&](const wire::WaitlistEntry* e) {
                               return e->patient() == patient(n).value &&
                                      e->appointment_type() == type_index(type);
                           });
    }

    std::uint32_t type_index(const char* id) const {
        const auto t = catalog_->find_type(id);
        if (!t) ADD_FAILURE() << "no type " << id;
        return t ? t->value : 0xFFFF'FFFF;
    }
    std::uint32_t resource_index(const char* id) const {
        const auto r = catalog_->find_resource(id);
        if (!r) ADD_FAILURE() << "no resource " << id;
        return r ? r->value : 0xFFFF'FFFF;
    }
    // "Changed by" as the client renders it (R17): report.cpp over the decoded wire booking.
    std::string changed_by(const wire::Booking& b) const {
        static const Calendar calendar("Europe/Stockholm");
        return tools::booking_json(*catalog_, calendar, codec::decode_booking(b))["changed_by"]
            .get<std::string>();
    }

  private:
    ServerProcess server_;
    std::unique_ptr<client::Connection> connection_;
    std::optional<Catalog> catalog_;
    std::string why_down_;
    client::RequestBuilder request_;
};

bool listed(const std::vector<wire::Slot>& slots, std::uint32_t id) {
    return std::any_of(slots.begin(), slots.end(),
                       [&](const wire::Slot& s) { return s.slot_id() == id; });
}
bool contains(const std::vector<std::uint64_t>& ids, std::uint64_t id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
}

class WireRules : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        region_ = std::make_unique<Wire>(rule_region_yaml, "rule-region.yaml");
        extra_ = std::make_unique<Wire>(extra_region_yaml, "extra-region.yaml");
    }
    static void TearDownTestSuite() {
        region_.reset();
        extra_.reset();
    }
    void SetUp() override {
        ASSERT_TRUE(region_->up()) << region_->why_down();
        ASSERT_TRUE(extra_->up()) << extra_->why_down();
        // A test that moved the clock and then failed must not move the next one's "now".
        const Answer reset = region_->set_clock(base_clock);
        ASSERT_TRUE(reset.ok()) << reset.why();
        ASSERT_TRUE(extra_->set_clock(base_clock).ok());
    }

    static Wire& region() { return *region_; }
    static Wire& extra() { return *extra_; }

    static inline std::unique_ptr<Wire> region_;
    static inline std::unique_ptr<Wire> extra_;
};

// ---- R2: web bookable means bookable on the web and by proxy (day 2026-03-03) ---------------

TEST_F(WireRules, R2_WebBookableIsBookableOnTheWebAndByProxy) {
    const auto all3 = region().slot("u1", "r1", "all3", "2026-03-03T08:00");
    const auto nobook = region().slot("u1", "r1", "nobook", "2026-03-03T13:00");
    const auto ombud = region().slot("u1", "r1", "ombud", "2026-03-03T11:00");

    const Answer booked = region().book(web(), all3, pnr(201));
    ASSERT_TRUE(booked.ok()) << booked.why();
    EXPECT_EQ(booked.booking()->channel(), wire::Channel::web);
    EXPECT_EQ(booked.booking()->slot()->slot_id(), all3);

    EXPECT_EQ(region().book(web(), nobook, pnr(202)).code(), "APPOINTMENT_NOT_ALLOWED");
    EXPECT_EQ(region().book(proxy(), nobook, pnr(202)).code(), "APPOINTMENT_NOT_ALLOWED");
    EXPECT_FALSE(listed(region().find(web(), "u1", "2026-03-03", "2026-03-03"), nobook));
    EXPECT_TRUE(region().book(staff(), nobook, pnr(202)).ok());  // staff book any type

    const Answer by_proxy = region().book(proxy(), ombud, pnr(203));
    ASSERT_TRUE(by_proxy.ok()) << by_proxy.why();
    EXPECT_EQ(by_proxy.booking()->channel(), wire::Channel::proxy);
}

TEST_F(WireRules, R2_ProxyMayNotBookAProxyTypeThatIsNotWebBookable) {
    const auto off = extra().slot("ux", "rx", "ombud-off", "2026-03-03T08:00");
    EXPECT_FALSE(listed(extra().find(proxy(), "ux", "2026-03-03", "2026-03-03"), off));
    EXPECT_EQ(extra().book(proxy(), off, pnr(204)).code(), "APPOINTMENT_NOT_ALLOWED");
    EXPECT_EQ(extra().book(web(), off, pnr(204)).code(), "APPOINTMENT_NOT_ALLOWED");
    const Answer by_staff = extra().book(staff("ux"), off, pnr(204));
    EXPECT_TRUE(by_staff.ok()) << by_staff.why();
}

// ---- R3: web cancellable covers web and proxy cancel (day 2026-03-04) ------------------------

TEST_F(WireRules, R3_CancellableOnWebAndByProxyAndNotCancellableRefusedOnBoth) {
    const auto all3 = region().slot("u1", "r1", "all3", "2026-03-04T08:00");
    const auto ombud = region().slot("u1", "r1", "ombud", "2026-03-04T11:00");
    const auto norecancel = region().slot("u1", "r1", "norecancel", "2026-03-04T10:00");

    const Answer a = region().book(web(), all3, pnr(301));
    ASSERT_TRUE(a.ok()) << a.why();
    // Another citizen's booking does not exist for them (no leak), and stays.
    EXPECT_EQ(region().cancel(web(), a.booking_id(), pnr(399)).code(), "BOOKING_NOT_FOUND");
    const Answer cancelled = region().cancel(web(), a.booking_id(), pnr(301));
    EXPECT_TRUE(cancelled.ok()) << cancelled.why();

    const Answer b = region().book(proxy(), ombud, pnr(301));
    ASSERT_TRUE(b.ok()) << b.why();
    EXPECT_TRUE(region().cancel(proxy(), b.booking_id(), pnr(301)).ok());

    const Answer c = region().book(web(), norecancel, pnr(302));
    ASSERT_TRUE(c.ok()) << c.why();
    EXPECT_EQ(region().cancel(web(), c.booking_id(), pnr(302)).code(), "CANCEL_NOT_ALLOWED");
    EXPECT_EQ(region().cancel(proxy(), c.booking_id(), pnr(302)).code(), "CANCEL_NOT_ALLOWED");
    EXPECT_TRUE(contains(region().bookings(web(), pnr(302)), c.booking_id()))
        << "a refused cancel must leave the booking";
    EXPECT_TRUE(region().cancel(staff(), c.booking_id(), "").ok());
}

// ---- R4: web rebookable; proxies do not rebook (day 2026-03-05) ------------------------------

TEST_F(WireRules, R4_RebookOnTheWebOnlyWhenRebookableAndNeverByProxy) {
    const auto from = region().slot("u1", "r1", "all3", "2026-03-05T08:00");
    const auto to = region().slot("u1", "r1", "all3", "2026-03-05T08:20");
    const auto norebook = region().slot("u1", "r2", "norebook", "2026-03-05T13:00");
    const auto norebook_to = region().slot("u1", "r2", "norebook", "2026-03-05T13:10");
    const auto ombud = region().slot("u1", "r1", "ombud", "2026-03-05T11:00");
    const auto ombud_to = region().slot("u1", "r1", "ombud", "2026-03-05T11:15");

    const Answer a = region().book(web(), from, pnr(401));
    ASSERT_TRUE(a.ok()) << a.why();
    const Answer moved = region().rebook(web(), a.booking_id(), to, pnr(401));
    ASSERT_TRUE(moved.ok()) << moved.why();
    EXPECT_EQ(moved.booking()->slot()->slot_id(), to);
    EXPECT_EQ(moved.booking_reply()->previous(), a.booking_id());
    const auto now_booked = region().bookings(web(), pnr(401));
    EXPECT_EQ(now_booked, std::vector<std::uint64_t>{moved.booking_id()});

    const Answer b = region().book(web(), norebook, pnr(402));
    ASSERT_TRUE(b.ok()) << b.why();
    EXPECT_EQ(region().rebook(web(), b.booking_id(), norebook_to, pnr(402)).code(),
              "REBOOK_NOT_ALLOWED");
    EXPECT_EQ(region().bookings(web(), pnr(402)), std::vector<std::uint64_t>{b.booking_id()});

    const Answer c = region().book(proxy(), ombud, pnr(403));
    ASSERT_TRUE(c.ok()) << c.why();
    EXPECT_EQ(region().rebook(proxy(), c.booking_id(), ombud_to, pnr(403)).code(),
              "REBOOK_NOT_ALLOWED");
    // The citizen may rebook what the proxy booked (R8: proxy types carry all three flags).
    const Answer by_citizen = region().rebook(web(), c.booking_id(), ombud_to, pnr(403));
    EXPECT_TRUE(by_citizen.ok()) << by_citizen.why();
}

// ---- R5: the flags are independent (day 2026-03-06) ------------------------------------------

TEST_F(WireRules, R5_FlagsAreIndependent) {
    const auto norecancel = region().slot("u1", "r1", "norecancel", "2026-03-06T10:00");
    const auto norecancel_to = region().slot("u1", "r1", "norecancel", "2026-03-06T10:20");
    const auto nobook = region().slot("u1", "r1", "nobook", "2026-03-06T13:00");
    const auto nobook_other = region().slot("u1", "r1", "nobook", "2026-03-06T13:20");

    // Bookable and rebookable but not cancellable: the citizen must call the unit to cancel.
    const Answer a = region().book(web(), norecancel, pnr(501));
    ASSERT_TRUE(a.ok()) << a.why();
    const Answer moved = region().rebook(web(), a.booking_id(), norecancel_to, pnr(501));
    ASSERT_TRUE(moved.ok()) << moved.why();
    EXPECT_EQ(region().cancel(web(), moved.booking_id(), pnr(501)).code(), "CANCEL_NOT_ALLOWED");

    // Cancellable and rebookable but not bookable.
    const Answer b = region().book(staff(), nobook, pnr(502));
    ASSERT_TRUE(b.ok()) << b.why();
    EXPECT_EQ(region().book(web(), nobook_other, pnr(503)).code(), "APPOINTMENT_NOT_ALLOWED");
    const Answer cancelled = region().cancel(web(), b.booking_id(), pnr(502));
    EXPECT_TRUE(cancelled.ok()) << cancelled.why();
}

// ---- R6: hidden types (day 2026-03-09; the extra region) --------------------------------------

TEST_F(WireRules, R6_HiddenTypeIsNeitherOfferedNorShownNorChangeable) {
    const auto hidden = region().slot("u1", "r2", "hidden", "2026-03-09T09:00");
    const auto hidden_to = region().slot("u1", "r2", "hidden", "2026-03-09T09:30");

    EXPECT_FALSE(listed(region().find(web(), "u1", "2026-03-09", "2026-03-09"), hidden));
    EXPECT_EQ(region().book(web(), hidden, pnr(601)).code(), "APPOINTMENT_NOT_ALLOWED");
    const Answer a = region().book(staff(), hidden, pnr(601));
    ASSERT_TRUE(a.ok()) << a.why();
    EXPECT_TRUE(region().bookings(web(), pnr(601)).empty()) << "not shown to the citizen";
    EXPECT_TRUE(region().bookings(proxy(), pnr(601)).empty()) << "nor to a proxy for them";
    EXPECT_EQ(region().bookings(staff(), pnr(601)), std::vector<std::uint64_t>{a.booking_id()});
    EXPECT_EQ(region().cancel(web(), a.booking_id(), pnr(601)).code(), "CANCEL_NOT_ALLOWED");
    EXPECT_EQ(region().cancel(proxy(), a.booking_id(), pnr(601)).code(), "CANCEL_NOT_ALLOWED");
    EXPECT_EQ(region().rebook(web(), a.booking_id(), hidden_to, pnr(601)).code(),
              "REBOOK_NOT_ALLOWED");
}

TEST_F(WireRules, R6_HideClearsTheFlagsItWasConfiguredWith) {
    // The extra region's "hidflags" is configured bookable, cancellable and rebookable *and*
    // hidden: the catalog must carry the flags cleared, and the web must not book it.
    const auto t = extra().catalog().find_type("hidflags");
    ASSERT_TRUE(t.has_value());
    const AppointmentType& type = extra().catalog().type(*t);
    EXPECT_TRUE(type.hide_from_patient);
    EXPECT_FALSE(type.web_bookable);
    EXPECT_FALSE(type.web_cancellable);
    EXPECT_FALSE(type.web_rebookable);
    const auto s = extra().slot("ux", "rx", "hidflags", "2026-03-09T08:00");
    EXPECT_FALSE(listed(extra().find(web(), "ux", "2026-03-09", "2026-03-09"), s));
    EXPECT_EQ(extra().book(web(), s, pnr(602)).code(), "APPOINTMENT_NOT_ALLOWED");
}

// ---- R7: no web name, never on the web (day 2026-03-10) ---------------------------------------

TEST_F(WireRules, R7_TypeWithoutWebNameIsNeverOfferedToWebOrProxy) {
    const auto noweb = region().slot("u1", "r2", "noweb", "2026-03-10T10:00");
    EXPECT_TRUE(region().catalog().type(TypeIdx{region().type_index("noweb")}).web_name.empty());
    EXPECT_FALSE(listed(region().find(web(), "u1", "2026-03-10", "2026-03-10"), noweb));
    EXPECT_FALSE(listed(region().find(proxy(), "u1", "2026-03-10", "2026-03-10"), noweb));
    EXPECT_EQ(region().book(web(), noweb, pnr(701)).code(), "APPOINTMENT_NOT_ALLOWED");
    EXPECT_EQ(region().book(proxy(), noweb, pnr(701)).code(), "APPOINTMENT_NOT_ALLOWED");
    EXPECT_TRUE(listed(region().find(staff(), "u1", "2026-03-10", "2026-03-10"), noweb));
    const Answer a = region().book(staff(), noweb, pnr(701));
    ASSERT_TRUE(a.ok()) << a.why();
    // What the web never presents, it does not show or change either.
    EXPECT_TRUE(region().bookings(web(), pnr(701)).empty());
    EXPECT_EQ(region().cancel(web(), a.booking_id(), pnr(701)).code(), "CANCEL_NOT_ALLOWED");
    EXPECT_EQ(region().rebook(web(), a.booking_id(), std::nullopt, pnr(701)).code(),
              "REBOOK_NOT_ALLOWED");
}

// ---- R8: proxy types (day 2026-03-11) ---------------------------------------------------------

TEST_F(WireRules, R8_ProxyBooksOnlyProxyTypes) {
    const auto all3 = region().slot("u1", "r1", "all3", "2026-03-11T08:00");
    const auto other_unit = region().slot("u2", "r3b", "ombud", "2026-03-11T08:00");

    EXPECT_EQ(region().book(proxy(), all3, pnr(801)).code(), "APPOINTMENT_NOT_ALLOWED");
    const auto offered = region().find(proxy(), "u1", "2026-03-11", "2026-03-11");
    ASSERT_FALSE(offered.empty());
    for (const wire::Slot& s : offered) {
        EXPECT_EQ(s.appointment_type(), region().type_index("ombud")) << "slot " << s.slot_id();
    }
    // A proxy books into any unit's proxy capacity (units of other providers too).
    const Answer booked = region().book(proxy(), other_unit, pnr(801));
    EXPECT_TRUE(booked.ok()) << booked.why();
}

TEST_F(WireRules, R8_CitizensAreNotOfferedProxyTypesButSeeAndChangeWhatAProxyBooked) {
    const auto ombud = region().slot("u1", "r1", "ombud", "2026-03-11T11:00");
    EXPECT_FALSE(listed(region().find(web(), "u1", "2026-03-11", "2026-03-11"), ombud));
    EXPECT_EQ(region().book(web(), ombud, pnr(802)).code(), "APPOINTMENT_NOT_ALLOWED");
    const Answer a = region().book(proxy(), ombud, pnr(802));
    ASSERT_TRUE(a.ok()) << a.why();
    EXPECT_EQ(region().bookings(web(), pnr(802)), std::vector<std::uint64_t>{a.booking_id()});
    const Answer cancelled = region().cancel(web(), a.booking_id(), pnr(802));
    EXPECT_TRUE(cancelled.ok()) << cancelled.why();
}

// ---- R10 / R11: the booking window ------------------------------------------------------------

TEST_F(WireRules, R10_WindowOneShowsASlotFromMidnightOfItsOwnDay) {
    const auto today = region().slot("u1", "r2", "win1", "2026-03-02T11:00");
    const auto tomorrow = region().slot("u1", "r2", "win1", "2026-03-03T11:00");
    EXPECT_TRUE(listed(region().find(web(), "u1", "2026-03-02", "2026-03-03"), today));
    EXPECT_FALSE(listed(region().find(web(), "u1", "2026-03-02", "2026-03-03"), tomorrow));
    EXPECT_EQ(region().book(web(), tomorrow, pnr(1001)).code(), "SLOT_NOT_AVAILABLE");
    // Nor can a booking be moved there (the window bounds rebooking as well).
    const auto today_later = region().slot("u1", "r2", "win1", "2026-03-02T11:15");
    const auto tomorrow_later = region().slot("u1", "r2", "win1", "2026-03-03T11:15");
    const Answer a = region().book(web(), today_later, pnr(1004));
    ASSERT_TRUE(a.ok()) << a.why();
    EXPECT_EQ(region().rebook(web(), a.booking_id(), tomorrow_later, pnr(1004)).code(),
              "SLOT_NOT_AVAILABLE");
    ASSERT_TRUE(region().set_clock("2026-03-02T23:59:59+01:00").ok());
    EXPECT_FALSE(listed(region().find(web(), "u1", "2026-03-03", "2026-03-03"), tomorrow));
    ASSERT_TRUE(region().set_clock("2026-03-03T00:00:00+01:00").ok());
    EXPECT_TRUE(listed(region().find(web(), "u1", "2026-03-03", "2026-03-03"), tomorrow));
    const Answer booked = region().book(web(), tomorrow, pnr(1001));
    EXPECT_TRUE(booked.ok()) << booked.why();
}

TEST_F(WireRules, R10_WindowFifteenShowsASlotFourteenDaysBefore) {
    // Clock: Monday 2026-03-02. Day 14 ahead is Monday 03-16; day 15 is Tuesday 03-17.
    const auto in = region().slot("u1", "r2", "norebook", "2026-03-16T13:00");
    const auto out = region().slot("u1", "r2", "norebook", "2026-03-17T13:00");
    const auto offered = region().find(web(), "u1", "2026-03-16", "2026-03-17", "norebook");
    EXPECT_TRUE(listed(offered, in));
    EXPECT_FALSE(listed(offered, out));
    EXPECT_EQ(region().book(web(), out, pnr(1002)).code(), "SLOT_NOT_AVAILABLE");
    EXPECT_TRUE(region().book(web(), in, pnr(1002)).ok());
    EXPECT_TRUE(region().book(staff(), out, pnr(1003)).ok()) << "the window is the web's";
}

TEST_F(WireRules, R11_EmptyWindowMeansSixtyDaysAheadInLocalCalendarDays) {
    // Clock: 2026-03-02. Day 60 is Friday 05-01; Monday 05-04 is day 63, and day 60 from
    // Thursday 03-05 (the first local midnight at which it may be shown).
    const auto day60 = region().slot("u1", "r1", "all3", "2026-05-01T08:00");
    const auto day63 = region().slot("u1", "r1", "all3", "2026-05-04T08:00");
    const auto proxy_day63 = region().slot("u1", "r1", "ombud", "2026-05-04T11:00");
    EXPECT_EQ(region().book(web(), day63, pnr(1101)).code(), "SLOT_NOT_AVAILABLE");
    EXPECT_EQ(region().book(proxy(), proxy_day63, pnr(1101)).code(), "SLOT_NOT_AVAILABLE");
    const Answer in = region().book(web(), day60, pnr(1101));
    EXPECT_TRUE(in.ok()) << in.why();
    ASSERT_TRUE(region().set_clock("2026-03-04T23:59:59+01:00").ok());
    EXPECT_EQ(region().book(web(), day63, pnr(1102)).code(), "SLOT_NOT_AVAILABLE");
    ASSERT_TRUE(region().set_clock("2026-03-05T00:00:00+01:00").ok());
    const Answer later = region().book(web(), day63, pnr(1102));
    EXPECT_TRUE(later.ok()) << later.why();
}

TEST_F(WireRules, R11_AStartedSlotIsNeverBookable) {
    const auto s = region().slot("u1", "r2", "all3", "2026-03-02T08:40");
    ASSERT_TRUE(region().set_clock("2026-03-02T08:40:00+01:00").ok());
    EXPECT_EQ(region().book(staff(), s, pnr(1103)).code(), "SLOT_HAS_PASSED");
    EXPECT_EQ(region().book(web(), s, pnr(1103)).code(), "SLOT_HAS_PASSED");
    EXPECT_FALSE(listed(region().find(staff(), "u1", "2026-03-02", "2026-03-02"), s));
    ASSERT_TRUE(region().set_clock("2026-03-02T08:39:59+01:00").ok());
    const Answer booked = region().book(web(), s, pnr(1103));
    EXPECT_TRUE(booked.ok()) << booked.why();
}

// ---- R13 / R14: when slots appear and disappear ------------------------------------------------

TEST_F(WireRules, R13_ACancelledOrRebookedAwaySlotIsBookableAtOnce) {
    // Day 2026-03-12. (Publishing slots and swapping types have no wire request yet: R13's
    // other cases are covered in-process only.)
    const auto s = region().slot("u1", "r1", "all3", "2026-03-12T08:00");
    const auto t = region().slot("u1", "r1", "all3", "2026-03-12T08:20");
    const auto u = region().slot("u1", "r1", "all3", "2026-03-12T08:40");
    const Answer a = region().book(web(), s, pnr(1301));
    ASSERT_TRUE(a.ok()) << a.why();
    EXPECT_FALSE(listed(region().find(web(), "u1", "2026-03-12", "2026-03-12"), s));
    ASSERT_TRUE(region().cancel(web(), a.booking_id(), pnr(1301)).ok());
    EXPECT_TRUE(listed(region().find(web(), "u1", "2026-03-12", "2026-03-12"), s));
    EXPECT_TRUE(region().book(web(), s, pnr(1302)).ok());

    const Answer b = region().book(web(), t, pnr(1303));
    ASSERT_TRUE(b.ok()) << b.why();
    ASSERT_TRUE(region().rebook(web(), b.booking_id(), u, pnr(1303)).ok());
    EXPECT_TRUE(listed(region().find(web(), "u1", "2026-03-12", "2026-03-12"), t));
    EXPECT_TRUE(region().book(web(), t, pnr(1304)).ok());
}

TEST_F(WireRules, R13_UnblockingMakesSlotsVisibleAgain) {
    // Day 2026-03-13.
    const auto s = region().slot("u1", "r1", "all3", "2026-03-13T08:00");
    const Answer k = region().block(staff(), "r1", "2026-03-13T08:00", "2026-03-13T09:00");
    ASSERT_TRUE(k.ok()) << k.why();
    EXPECT_FALSE(listed(region().find(web(), "u1", "2026-03-13", "2026-03-13"), s));
    const Answer u = region().unblock(staff(), k.result()->body_as_BlockReply()->block_id());
    ASSERT_TRUE(u.ok()) << u.why();
    EXPECT_TRUE(listed(region().find(web(), "u1", "2026-03-13", "2026-03-13"), s));
    EXPECT_TRUE(region().book(web(), s, pnr(1305)).ok());
}

TEST_F(WireRules, R14_ABlockingEventHidesFreeSlotsAtOnce) {
    // Day 2026-03-16, resource r1.
    const auto first = region().slot("u1", "r1", "all3", "2026-03-16T08:00");
    const auto s = region().slot("u1", "r1", "all3", "2026-03-16T08:20");
    const auto booked = region().slot("u1", "r1", "all3", "2026-03-16T08:40");
    const Answer a = region().book(web(), booked, pnr(1401));
    ASSERT_TRUE(a.ok()) << a.why();
    EXPECT_EQ(region().block(staff("u2"), "r1", "2026-03-16T08:00", "2026-03-16T09:00").code(),
              "UNAUTHORIZED")
        << "another unit's staff do not block this unit's resources";
    const Answer k = region().block(staff(), "r1", "2026-03-16T08:10", "2026-03-16T09:00");
    ASSERT_TRUE(k.ok()) << k.why();
    const wire::BlockReply* block = k.result()->body_as_BlockReply();
    EXPECT_EQ(block->slots_changed(), 2U);  // 08:00 (overlaps from 08:10) and 08:20
    EXPECT_EQ(block->reserved_untouched(), 1U);
    const auto offered = region().find(web(), "u1", "2026-03-16", "2026-03-16");
    EXPECT_FALSE(listed(offered, first));
    EXPECT_FALSE(listed(offered, s));
    EXPECT_EQ(region().book(web(), s, pnr(1402)).code(), "SLOT_NOT_AVAILABLE");
    // The booking under the block stays; cancelled, its slot comes back blocked, not free.
    EXPECT_EQ(region().bookings(web(), pnr(1401)), std::vector<std::uint64_t>{a.booking_id()});
    ASSERT_TRUE(region().cancel(web(), a.booking_id(), pnr(1401)).ok());
    EXPECT_FALSE(listed(region().find(staff(), "u1", "2026-03-16", "2026-03-16"), booked));
    EXPECT_EQ(region().book(web(), booked, pnr(1402)).code(), "SLOT_NOT_AVAILABLE");
    ASSERT_TRUE(region().unblock(staff(), block->block_id()).ok());
    EXPECT_TRUE(listed(region().find(web(), "u1", "2026-03-16", "2026-03-16"), booked));
}

TEST_F(WireRules, R14_ABookedSlotDisappears) {
    // Day 2026-03-17.
    const auto s = region().slot("u1", "r1", "all3", "2026-03-17T08:00");
    ASSERT_TRUE(region().book(web(), s, pnr(1403)).ok());
    EXPECT_FALSE(listed(region().find(web(), "u1", "2026-03-17", "2026-03-17"), s));
    EXPECT_FALSE(listed(region().find(staff(), "u1", "2026-03-17", "2026-03-17"), s));
    EXPECT_EQ(region().book(web(), s, pnr(1404)).code(), "SLOT_ALREADY_RESERVED");
}

// ---- R15 / R16: rebooking stays with provider, resource and type -----------------------------

TEST_F(WireRules, R15_RebookingStaysWithTheSameCareProvider) {
    // Days 2026-03-18 and 03-19.
    const auto s = region().slot("u1", "r1", "all3", "2026-03-18T08:00");
    const auto other_provider = region().slot("u3", "r4", "all3c", "2026-03-19T08:00");
    const auto other_unit = region().slot("u2", "r3", "all3b", "2026-03-19T08:00");
    const auto same = region().slot("u1", "r1", "all3", "2026-03-19T08:00");
    const Answer a = region().book(web(), s, pnr(1501));
    ASSERT_TRUE(a.ok()) << a.why();
    EXPECT_EQ(region().rebook(web(), a.booking_id(), other_provider, pnr(1501)).code(),
              "REBOOK_NOT_ALLOWED");
    EXPECT_EQ(region().rebook(web(), a.booking_id(), other_unit, pnr(1501)).code(),
              "REBOOK_NOT_ALLOWED");
    EXPECT_EQ(region().bookings(web(), pnr(1501)), std::vector<std::uint64_t>{a.booking_id()});
    const Answer moved = region().rebook(web(), a.booking_id(), same, pnr(1501));
    EXPECT_TRUE(moved.ok()) << moved.why();
}

TEST_F(WireRules, R16_RebookOffersOnlySameResourceAndType) {
    // Day 2026-03-20; --first takes r1's earliest free all3 slot (from today on).
    const auto s = region().slot("u1", "r1", "all3", "2026-03-20T08:40");
    const auto other_resource = region().slot("u1", "r2", "all3", "2026-03-20T08:00");
    const auto other_type = region().slot("u1", "r1", "norecancel", "2026-03-20T10:00");
    const Answer a = region().book(web(), s, pnr(1601));
    ASSERT_TRUE(a.ok()) << a.why();
    EXPECT_EQ(region().rebook(web(), a.booking_id(), other_resource, pnr(1601)).code(),
              "REBOOK_NOT_ALLOWED");
    EXPECT_EQ(region().rebook(web(), a.booking_id(), other_type, pnr(1601)).code(),
              "REBOOK_NOT_ALLOWED");

    // Make r2's earliest free all3 slot earlier than r1's, so that a --first that left the
    // resource would visibly land on r2: book r1's earliest slots for another patient.
    const auto r2_first = region().find(web(), "u1", nullptr, nullptr, "all3", "r2", 1);
    ASSERT_EQ(r2_first.size(), 1U);
    std::vector<wire::Slot> r1_first;
    for (int i = 0; i < 12; ++i) {  // r2 has three all3 slots a day: a few suffice
        r1_first = region().find(web(), "u1", nullptr, nullptr, "all3", "r1", 1);
        ASSERT_EQ(r1_first.size(), 1U);
        if (r1_first[0].start() > r2_first[0].start()) break;
        ASSERT_TRUE(region().book(web(), r1_first[0].slot_id(), pnr(1602)).ok());
    }
    ASSERT_GT(r1_first[0].start(), r2_first[0].start());

    const Answer first = region().rebook(web(), a.booking_id(), std::nullopt, pnr(1601));
    ASSERT_TRUE(first.ok()) << first.why();
    const wire::Slot* got = first.booking()->slot();
    EXPECT_EQ(got->resource(), region().resource_index("r1"));
    EXPECT_EQ(got->appointment_type(), region().type_index("all3"));
    EXPECT_EQ(got->slot_id(), r1_first[0].slot_id()) << "the earliest free one";
}

// ---- R17 / R18: who changed it, and the patient's comment --------------------------------------

TEST_F(WireRules, R17_ChangedByIsTheWebSystemOrTheStaffUser) {
    // Day 2026-03-23.
    const auto w =
        region().book(web(), region().slot("u1", "r1", "all3", "2026-03-23T08:00"), pnr(1701));
    const auto s =
        region().book(staff(), region().slot("u1", "r1", "all3", "2026-03-23T08:20"), pnr(1702));
    const auto p =
        region().book(proxy(), region().slot("u1", "r1", "ombud", "2026-03-23T11:00"), pnr(1703));
    ASSERT_TRUE(w.ok() && s.ok() && p.ok()) << w.why() << " / " << s.why() << " / " << p.why();
    EXPECT_EQ(region().changed_by(*w.booking()), web_system_identity);
    EXPECT_EQ(region().changed_by(*s.booking()), "Karin Lind (vgr-abc123)");
    EXPECT_EQ(region().changed_by(*p.booking()), "1177 Vårdguiden på telefon");
    // The same identity comes back when the booking is listed later, not only in the reply.
    const Answer listed_later = region().call(staff(), [&](fb::FlatBufferBuilder& b) {
        return wire::CreateBookings(b, b.CreateString(pnr(1702)));
    });
    ASSERT_TRUE(listed_later.ok()) << listed_later.why();
    const auto* list = listed_later.result()->body_as_BookingList()->bookings();
    ASSERT_TRUE(list && list->size() == 1);
    EXPECT_EQ(region().changed_by(*list->Get(0)), "Karin Lind (vgr-abc123)");
}

TEST_F(WireRules, R17_AStaffChangeWithoutTheStaffUsersNameIsRefused) {
    // R17: a booking made inside the system shows the staff user's name *and* staff id. A staff
    // request that carries no name cannot produce that, so it must be refused (nothing booked)
    // rather than recorded as changed by " (vgr-abc123)".
    const auto s = region().slot("u1", "r1", "all3", "2026-03-23T08:40");
    const client::Identity nameless{Channel::staff, "vgr-abc123", "", "u1", "e2e-rules"};
    const Answer a = region().book(nameless, s, pnr(1704));
    if (a.ok()) {
        ADD_FAILURE() << "a nameless staff booking was accepted; changed by reads \""
                      << region().changed_by(*a.booking()) << "\"";
        return;
    }
    EXPECT_EQ(a.code(), "INVALID_REQUEST");
    EXPECT_EQ(a.field(), "actor_name");
    EXPECT_TRUE(listed(region().find(web(), "u1", "2026-03-23", "2026-03-23"), s));
}

TEST_F(WireRules, R18_WebBookingCarriesPhoneAndReasonWhenTheUnitAsks) {
    // Day 2026-03-24. u1 has "patient comment web" on, u2 off.
    const auto s = region().slot("u1", "r1", "all3", "2026-03-24T08:00");
    const auto t = region().slot("u2", "r3", "all3b", "2026-03-24T08:20");
    const Answer a = region().book(web(), s, pnr(1801), "0701234567", "Ont i halsen");
    ASSERT_TRUE(a.ok()) << a.why();
    ASSERT_TRUE(a.booking()->phone() && a.booking()->reason());
    EXPECT_EQ(a.booking()->phone()->str(), "0701234567");
    EXPECT_EQ(a.booking()->reason()->str(), "Ont i halsen");
    // Kept with the booking: the unit's staff see it when they list the patient's bookings.
    const Answer seen = region().call(staff(), [&](fb::FlatBufferBuilder& b) {
        return wire::CreateBookings(b, b.CreateString(pnr(1801)));
    });
    ASSERT_TRUE(seen.ok()) << seen.why();
    const auto* list = seen.result()->body_as_BookingList()->bookings();
    ASSERT_TRUE(list && list->size() == 1 && list->Get(0)->reason());
    EXPECT_EQ(list->Get(0)->reason()->str(), "Ont i halsen");

    const Answer b = region().book(web(), t, pnr(1801), "0701234567", "Ont i halsen");
    ASSERT_TRUE(b.ok()) << b.why();
    EXPECT_TRUE(!b.booking()->phone() || b.booking()->phone()->size() == 0);
    EXPECT_TRUE(!b.booking()->reason() || b.booking()->reason()->size() == 0);
}

// ---- R22: back on the waitlist (day 2026-03-25) ------------------------------------------------

TEST_F(WireRules, R22_AWaitlistBookingCancelledOnTheWebGoesBackOnTheWaitlist) {
    const auto s = region().slot("u1", "r1", "all3", "2026-03-25T08:00");
    ASSERT_TRUE(region().waitlist_add(staff(), "u1", "all3", pnr(2201)).ok());
    ASSERT_TRUE(region().on_waitlist("u1", "all3", 2201));
    const Answer a = region().book(staff(), s, pnr(2201), nullptr, nullptr, true);
    ASSERT_TRUE(a.ok()) << a.why();
    EXPECT_TRUE(a.booking()->from_waitlist());
    EXPECT_FALSE(region().on_waitlist("u1", "all3", 2201)) << "booked: off the waitlist";
    const Answer c = region().cancel(web(), a.booking_id(), pnr(2201));
    ASSERT_TRUE(c.ok()) << c.why();
    EXPECT_TRUE(c.booking_reply()->returned_to_waitlist());
    EXPECT_TRUE(region().on_waitlist("u1", "all3", 2201));
}

TEST_F(WireRules, R22_OnlyWaitlistBookingsCancelledOnTheWebReturn) {
    const auto s = region().slot("u1", "r1", "all3", "2026-03-25T08:20");
    const auto t = region().slot("u1", "r1", "all3", "2026-03-25T08:40");
    ASSERT_TRUE(region().waitlist_add(staff(), "u1", "all3", pnr(2202)).ok());
    const Answer a = region().book(staff(), s, pnr(2202), nullptr, nullptr, true);
    ASSERT_TRUE(a.ok()) << a.why();
    const Answer by_staff = region().cancel(staff(), a.booking_id(), "");
    ASSERT_TRUE(by_staff.ok()) << by_staff.why();
    EXPECT_FALSE(by_staff.booking_reply()->returned_to_waitlist()) << "staff decided";
    EXPECT_FALSE(region().on_waitlist("u1", "all3", 2202));

    // A citizen cannot put themselves on a waitlist by claiming to come from it.
    const Answer claimed = region().book(web(), t, pnr(2203), nullptr, nullptr, true);
    EXPECT_EQ(claimed.code(), "INVALID_REQUEST");
    EXPECT_EQ(claimed.field(), "from_waitlist");
    const Answer plain = region().book(web(), t, pnr(2203));
    ASSERT_TRUE(plain.ok()) << plain.why() << " (the refused claim must leave the slot free)";
    const Answer c = region().cancel(web(), plain.booking_id(), pnr(2203));
    ASSERT_TRUE(c.ok()) << c.why();
    EXPECT_FALSE(c.booking_reply()->returned_to_waitlist());
    EXPECT_FALSE(region().on_waitlist("u1", "all3", 2203));
}

// ---- R23: late cancellation billing -------------------------------------------------------------

TEST_F(WireRules, R23_ExactlyTwentyFourHoursBeforeIsNotBilledAndLaterIs) {
    // Days 2026-03-26 and 03-27.
    const auto s = region().slot("u1", "r1", "all3", "2026-03-26T08:00");
    const auto t = region().slot("u1", "r1", "all3", "2026-03-26T08:20");
    const auto t_to = region().slot("u1", "r1", "all3", "2026-03-27T08:00");
    const Answer a = region().book(web(), s, pnr(2301));
    const Answer b = region().book(web(), t, pnr(2302));
    ASSERT_TRUE(a.ok() && b.ok()) << a.why() << " / " << b.why();

    ASSERT_TRUE(region().set_clock("2026-03-25T08:00:00+01:00").ok());
    const Answer in_time = region().cancel(web(), a.booking_id(), pnr(2301));
    ASSERT_TRUE(in_time.ok()) << in_time.why();
    EXPECT_FALSE(in_time.booking_reply()->billable());

    ASSERT_TRUE(region().set_clock("2026-03-25T08:20:01+01:00").ok());
    const Answer late = region().rebook(web(), b.booking_id(), t_to, pnr(2302));
    ASSERT_TRUE(late.ok()) << late.why();
    EXPECT_TRUE(late.booking_reply()->billable());
}

TEST_F(WireRules, R23_TheSourceExamplesAreNotBilled) {
    // Changed a week before the previous start (15:52 → 08:00 and 15:53 → 08:20 the week after;
    // days 2026-03-09 and 03-10, resource r1).
    const auto s = region().slot("u1", "r1", "all3", "2026-03-09T08:00");
    const auto t = region().slot("u1", "r1", "all3", "2026-03-09T08:20");
    const auto s_to = region().slot("u1", "r1", "all3", "2026-03-10T08:00");
    const Answer a = region().book(web(), s, pnr(2303));
    const Answer b = region().book(web(), t, pnr(2304));
    ASSERT_TRUE(a.ok() && b.ok()) << a.why() << " / " << b.why();
    ASSERT_TRUE(region().set_clock("2026-03-02T15:52:00+01:00").ok());
    const Answer moved = region().rebook(web(), a.booking_id(), s_to, pnr(2303));
    ASSERT_TRUE(moved.ok()) << moved.why();
    EXPECT_FALSE(moved.booking_reply()->billable());
    ASSERT_TRUE(region().set_clock("2026-03-02T15:53:00+01:00").ok());
    const Answer cancelled = region().cancel(web(), b.booking_id(), pnr(2304));
    ASSERT_TRUE(cancelled.ok()) << cancelled.why();
    EXPECT_FALSE(cancelled.booking_reply()->billable());
}

TEST_F(WireRules, R23_HoursAreRealHoursAcrossDaylightSaving) {
    // Spring: summer time starts in the night to Sunday 2026-03-29. From Saturday 11:30 to
    // Sunday 12:00 the wall clock shows 24.5 hours but 23.5 real hours pass: billable; from
    // Saturday 11:00 exactly 24 real hours pass: not billed.
    const auto spring = extra().slot("ux", "rx", "sunday", "2026-03-29T12:00:00+02:00");
    const Answer a = extra().book(web(), spring, pnr(2305));
    ASSERT_TRUE(a.ok()) << a.why();
    ASSERT_TRUE(extra().set_clock("2026-03-28T11:30:00+01:00").ok());
    const Answer late = extra().cancel(web(), a.booking_id(), pnr(2305));
    ASSERT_TRUE(late.ok()) << late.why();
    EXPECT_TRUE(late.booking_reply()->billable());
    const Answer b = extra().book(web(), spring, pnr(2306));
    ASSERT_TRUE(b.ok()) << b.why();
    ASSERT_TRUE(extra().set_clock("2026-03-28T11:00:00+01:00").ok());
    const Answer in_time = extra().cancel(web(), b.booking_id(), pnr(2306));
    ASSERT_TRUE(in_time.ok()) << in_time.why();
    EXPECT_FALSE(in_time.booking_reply()->billable());

    // Autumn: winter time starts in the night to Sunday 2026-10-25. From Saturday 12:30 to
    // Sunday 12:00 the wall clock shows 23.5 hours but 24.5 real hours pass: not billed.
    ASSERT_TRUE(extra().set_clock("2026-10-24T09:00:00+02:00").ok());
    const auto autumn = extra().slot("ux", "rx", "sunday", "2026-10-25T12:00:00+01:00");
    const Answer c = extra().book(web(), autumn, pnr(2307));
    ASSERT_TRUE(c.ok()) << c.why();
    ASSERT_TRUE(extra().set_clock("2026-10-24T12:30:00+02:00").ok());
    const Answer autumn_cancel = extra().cancel(web(), c.booking_id(), pnr(2307));
    ASSERT_TRUE(autumn_cancel.ok()) << autumn_cancel.why();
    EXPECT_FALSE(autumn_cancel.booking_reply()->billable());
}

// ---- R25: the unit's case types and condition texts -------------------------------------------

TEST_F(WireRules, R25_BookingCaseTypeOffOffersNothingOnTheWeb) {
    // u3 has "Boka tid" off. Day 2026-03-30.
    const auto s = region().slot("u3", "r4", "all3c", "2026-03-30T08:00");
    EXPECT_TRUE(region().find(web(), "u3", "2026-03-02", "2026-04-30").empty());
    EXPECT_EQ(region().book(web(), s, pnr(2501)).code(), "APPOINTMENT_NOT_ALLOWED");
    EXPECT_TRUE(region().book(staff("u3"), s, pnr(2501)).ok());
    EXPECT_FALSE(region().find(web(), "u1", "2026-03-30", "2026-03-30").empty())
        << "another unit's switch does not matter";
}

TEST_F(WireRules, R25_CancelRebookCaseTypeOffRefusesWebCancelAndRebook) {
    // u2 has "Av/omboka tid" off. Days 2026-03-30 and 03-31.
    const auto s = region().slot("u2", "r3", "all3b", "2026-03-30T08:00");
    const auto t = region().slot("u2", "r3", "all3b", "2026-03-31T08:00");
    const Answer a = region().book(web(), s, pnr(2502));
    ASSERT_TRUE(a.ok()) << a.why();
    EXPECT_EQ(region().cancel(web(), a.booking_id(), pnr(2502)).code(), "CANCEL_NOT_ALLOWED");
    EXPECT_EQ(region().rebook(web(), a.booking_id(), t, pnr(2502)).code(), "REBOOK_NOT_ALLOWED");
    EXPECT_EQ(region().bookings(web(), pnr(2502)), std::vector<std::uint64_t>{a.booking_id()});
    EXPECT_TRUE(region().cancel(staff("u2"), a.booking_id(), "").ok());
}

TEST_F(WireRules, R25_ConditionTextsComeWithTheUnitsWebInformation) {
    const Answer a = region().call(web(), [](fb::FlatBufferBuilder& b) {
        return wire::CreateGetCatalog(b, b.CreateString("u1"));
    });
    ASSERT_TRUE(a.ok()) << a.why();
    const auto* units = a.result()->body_as_CatalogReply()->units();
    ASSERT_TRUE(units && units->size() == 1);
    const wire::WebSettings* w = units->Get(0)->web();
    ASSERT_TRUE(w && w->terms_book() && w->terms_cancel_rebook());
    EXPECT_TRUE(w->booking_active());
    EXPECT_TRUE(w->cancel_rebook_active());
    EXPECT_EQ(w->terms_book()->str(), "Avboka senast 24 timmar innan.");
    EXPECT_EQ(w->terms_cancel_rebook()->str(), "Ring oss vid frågor.");
    const Unit& u3 = region().catalog().unit(*region().catalog().find_unit("u3"));
    EXPECT_FALSE(u3.web.booking_active);
}

}  // namespace
}  // namespace slotmatch::testing
