// slotmatch-demo: loads a region into the embedded engine, prints its lint and summary, and
// plays a short scripted booking session against it: citizens on the web, the 1177 phone
// service as a proxy, and staff. Each step shows the `slotmatch` CLI command it corresponds to
// and the JSON reply in the documented shape, refusals included.
#include <boost/program_options.hpp>
#include <iostream>
#include <map>
#include <slotmatch/patient.hpp>

#include "program.hpp"
#include "report.hpp"

namespace po = boost::program_options;
using namespace slotmatch;
using nlohmann::json;

namespace {

constexpr const char* default_clock = "fixed:2026-12-01T08:00:00+01:00";

class Session {
  public:
    explicit Session(Engine& engine) : engine_(engine) {}

    void step(const std::string& title, const std::string& command, const json& reply) {
        std::cout << "\n── " << ++number_ << ". " << title << "\n$ slotmatch " << command << '\n'
                  << reply.dump() << '\n';
    }
    json booked(const Outcome<BookingView>& o) {
        if (!o.ok()) return tools::refusal_json(o);
        return {{"ok", true}, {"booking", tools::booking_json(engine_, o.value)}};
    }
    json moved(const Outcome<MoveResult>& o) {
        if (!o.ok()) return tools::refusal_json(o);
        return {{"ok", true},
                {"booking", tools::booking_json(engine_, o.value.booking)},
                {"billable", o.value.billable}};
    }
    json found(const Outcome<std::vector<SlotView>>& o) {
        if (!o.ok()) return tools::refusal_json(o);
        json slots = json::array();
        for (const SlotView& s : o.value) slots.push_back(tools::slot_json(engine_, s));
        return {{"ok", true}, {"slots", slots}};
    }

  private:
    Engine& engine_;
    int number_ = 0;
};

PatientKey patient(const char* id) {
    return *parse_patient_id(id).key;
}

Actor web() {
    return {Channel::web, ActorText::from("1177-gateway"), {}, false, {}};
}
Actor phone_service() {
    return {Channel::proxy,
            ActorText::from("1177-telefon"),
            ActorName::from("1177 Vårdguiden på telefon"),
            false,
            {}};
}
Actor staff(const Catalog& c, const char* unit) {
    return {Channel::staff, ActorText::from("vgr-kali01"), ActorName::from("Karin Lind"), true,
            *c.find_unit(unit)};
}

// The demo region's units and two citizens.
const char* const lerum = "se2321000131-E000000000101";
const char* const alingsas = "se2321000131-E000000000102";
const char* const partille = "se5565000000-E000000000201";
const char* const web_flags = " --channel web --actor 1177-gateway";

// Anna finds, holds and books; Bo is too late; the booking returned is Anna's.
Outcome<BookingView> citizens_book(Engine& engine, Session& s) {
    const Catalog& c = engine.catalog();
    const PatientKey anna = patient("199001012385");
    const PatientKey bo = patient("198507142381");

    SlotQuery q;
    q.unit = *c.find_unit(lerum);
    q.type = c.find_type("lerum-nybesok");
    q.limit = 3;
    auto offered = engine.find(web(), q);
    s.step("A citizen looks for \"Bedömning av nya besvär\" at Vårdcentralen Lerum",
           std::string("find --unit ") + lerum + " --type lerum-nybesok --limit 3" + web_flags,
           s.found(offered));
    if (!offered.ok() || offered.value.empty()) return Outcome<BookingView>::refuse(offered);
    const SlotId first = offered.value[0].id;

    auto hold = engine.hold(web(), first, anna);
    s.step("Anna holds the first slot while she confirms",
           "hold --slot " + std::to_string(first.value) + " --patient 199001012385" + web_flags,
           hold.ok() ? json{{"ok", true},
                            {"hold_id", hold.value.id.value},
                            {"expires_at", engine.calendar().format(hold.value.expires_at)},
                            {"slot", tools::slot_json(engine, hold.value.slot)}}
                     : tools::refusal_json(hold));

    BookRequest by_hold;
    by_hold.hold = hold.value.id;
    by_hold.patient = anna;
    by_hold.phone = PhoneText::from("0701234567");
    by_hold.reason = ReasonText::from("Hosta sedan två veckor");
    auto annas = engine.book(web(), by_hold);
    s.step("Anna books it (the unit asks for phone and reason, R18)",
           "book --hold " + std::to_string(hold.value.id.value) +
               " --patient 199001012385 --phone 0701234567 --reason 'Hosta sedan två veckor'" +
               web_flags,
           s.booked(annas));

    BookRequest same;
    same.slot = first;
    same.patient = bo;
    s.step("Bo clicks the same slot a moment later",
           "book --slot " + std::to_string(first.value) + " --patient 198507142381" + web_flags,
           s.booked(engine.book(web(), same)));
    return annas;
}

// Proxy types: not for citizens, booked by the 1177 phone service (R2, R8).
void proxies_book(Engine& engine, Session& s) {
    const Catalog& c = engine.catalog();
    const PatientKey bo = patient("198507142381");

    SlotQuery ombud;
    ombud.unit = *c.find_unit(lerum);
    ombud.type = c.find_type("ombud-bedomning");
    BookRequest proxy_type_on_web;
    proxy_type_on_web.match = ombud;
    proxy_type_on_web.patient = bo;
    s.step("Bo tries a proxy (Ombud) type on the web (R8)",
           std::string("book --unit ") + lerum + " --type ombud-bedomning --patient 198507142381" +
               web_flags,
           s.booked(engine.book(web(), proxy_type_on_web)));

    ombud.unit = *c.find_unit(partille);
    BookRequest by_phone;
    by_phone.match = ombud;
    by_phone.patient = bo;
    s.step(
        "The 1177 phone service books Bo into another provider's health centre (R2, R8)",
        std::string("book --unit ") + partille +
            " --type ombud-bedomning --patient 198507142381 --channel proxy --actor 1177-telefon",
        s.booked(engine.book(phone_service(), by_phone)));
}

// Rebooking, the unit's switches, billing and bad input.
void citizens_change(Engine& engine, Session& s, const Outcome<BookingView>& annas) {
    const Catalog& c = engine.catalog();
    const PatientKey anna = patient("199001012385");
    if (annas.ok()) {
        s.step(
            "Anna moves to the earliest other slot, same resource and type (R16); her visit is "
            "today, so the change is billable (R23)",
            "rebook --booking " + std::to_string(annas.value.id.value) +
                " --first --patient 199001012385" + web_flags,
            s.moved(engine.rebook(web(), RebookRequest{annas.value.id, std::nullopt, anna})));
    }

    SlotQuery akut;
    akut.unit = *c.find_unit(alingsas);
    akut.type = c.find_type("alingsas-akut");
    BookRequest today;
    today.match = akut;
    today.patient = anna;
    auto same_day = engine.book(web(), today);
    s.step("Anna books a same-day slot in Alingsås (window N = 1, R10)",
           std::string("book --unit ") + alingsas + " --type alingsas-akut --patient 199001012385" +
               web_flags,
           s.booked(same_day));
    if (same_day.ok()) {
        s.step("She tries to cancel on the web, but Alingsås has \"Av/omboka tid\" off (R25)",
               "cancel --booking " + std::to_string(same_day.value.id.value) +
                   " --patient 199001012385" + web_flags,
               s.moved(engine.cancel(web(), same_day.value.id, anna)));
        s.step("The unit's staff cancel it for her, less than 24 h before: billable (R23)",
               "cancel --booking " + std::to_string(same_day.value.id.value) +
                   " --channel staff --actor vgr-kali01 --actor-name 'Karin Lind' --actor-unit " +
                   alingsas,
               s.moved(engine.cancel(staff(c, alingsas), same_day.value.id, {})));
    }

    auto bad = parse_patient_id("199001012386");
    s.step("A mistyped personnummer is refused before anything happens",
           std::string("book --unit ") + lerum + " --type lerum-nybesok --patient 199001012386" +
               web_flags,
           tools::refusal_json(ErrorCode::invalid_request, "patient", bad.why));
}

// Staff block a day; every change so far became an event for the journal.
void staff_block(Engine& engine, Session& s) {
    const Catalog& c = engine.catalog();
    auto blocked =
        engine.block(staff(c, lerum), *c.find_resource("lerum-lak-1"),
                     *engine.calendar().parse_time("2026-12-02T00:00"),
                     *engine.calendar().parse_time("2026-12-03T00:00"), "Utbildningsdag");
    s.step("Staff block Anna Berg's calendar for a training day (R14)",
           "block --resource lerum-lak-1 --from 2026-12-02T00:00 --to 2026-12-03T00:00 "
           "--reason Utbildningsdag --channel staff --actor vgr-kali01 --actor-unit " +
               std::string(lerum),
           blocked.ok() ? json{{"ok", true},
                               {"block_id", blocked.value.id.value},
                               {"slots_blocked", blocked.value.slots_changed},
                               {"bookings_kept", blocked.value.reserved_untouched}}
                        : tools::refusal_json(blocked));

    std::vector<Event> events(4096);
    std::map<std::string, int> kinds;
    const std::size_t n = engine.events().drain(events);
    for (std::size_t i = 0; i < n; ++i) ++kinds[std::string(to_string(events[i].kind))];
    std::cout << "\nEvents published for the journal: " << n;
    for (const auto& [kind, count] : kinds) std::cout << "  " << kind << "=" << count;
    std::cout << '\n';
}

void play(Engine& engine) {
    Session s(engine);
    auto annas = citizens_book(engine, s);
    proxies_book(engine, s);
    citizens_change(engine, s, annas);
    staff_block(engine, s);
}

}  // namespace

int main(int argc, char** argv) {
    po::options_description options("slotmatch-demo --config region.yaml [options]");
    options.add_options()("help,h", "print this help and exit")(
        "config", po::value<std::string>()->default_value("tools/region/demo.yaml"),
        "the region config (YAML)")("clock", po::value<std::string>()->default_value(default_clock),
                                    "fixed:ISO8601 — the moment the session plays at");
    int exit_code = 0;
    const auto parsed =
        tools::parse_command_line(argc, argv, options, "slotmatch-demo",
                                  "a scripted booking session on the embedded engine.", exit_code);
    if (!parsed) return exit_code;
    const auto& vm = *parsed;
    const std::string path = vm["config"].as<std::string>();
    LoadResult loaded = load_region_file(path);
    std::cout << "Region " << path << '\n';
    tools::print_diagnostics(std::cout, loaded);
    if (!loaded.ok()) return 1;
    std::string why;
    auto start = tools::parse_fixed_clock(Calendar(loaded.catalog->timezone),
                                          vm["clock"].as<std::string>(), why);
    if (!start) {
        std::cerr << "slotmatch-demo: " << why << '\n';
        return 2;
    }
    FixedClock clock(*start);
    Engine engine(std::move(*loaded.catalog), clock);
    std::cout << '\n';
    tools::print_region_summary(std::cout, engine);
    std::cout << "\nA booking session at " << engine.calendar().format(clock.now()) << ":\n";
    play(engine);
    return 0;
}
