// slotmatch: the command-line client. One command per call; prints one JSON document on stdout
// (ARCHITECTURE.md's reply shapes) and exits 0 (ok), 1 (refused) or 2 (bad usage, or no server
// answered within --timeout-ms).
#include <unistd.h>

#include <boost/program_options.hpp>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <slotmatch/calendar.hpp>
#include <sstream>

#include "client.hpp"
#include "report.hpp"

namespace po = boost::program_options;
namespace fb = flatbuffers;
using namespace slotmatch;
using nlohmann::json;

namespace {

constexpr std::uint32_t timeout_ms_max = 3'600'000;

constexpr const char* summary =
    "the slotmatch client: sends one command to slotmatchd and prints its JSON reply.\n"
    "Exit codes: 0 ok, 1 refused (the reply names the error code), 2 bad usage or no server.";

// A non-negative number on the command line: digits only, in range (Boost would wrap "-1" to
// the type's maximum and send it).
template <typename T>
struct Number {
    T value{};
};
template <typename T>
void validate(boost::any& v, const std::vector<std::string>& values, Number<T>*, int) {
    po::validators::check_first_occurrence(v);
    const std::string& s = po::validators::get_single_string(values);
    T out{};
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) {
        throw po::invalid_option_value(s);
    }
    v = Number<T>{out};
}
using U32 = Number<std::uint32_t>;
using U64 = Number<std::uint64_t>;

struct Command {
    std::string name;  // "find", "waitlist add", ...
    std::string usage;
    po::options_description options;
};

po::options_description common_options() {
    po::options_description o("options of every command");
    o.add_options()("help,h", "print help (after a command: that command's options)")(
        "server", po::value<std::string>()->default_value("tcp://127.0.0.1:5555"),
        "slotmatchd's endpoint")("channel", po::value<std::string>()->default_value("web"),
                                 "web | proxy | staff")(
        "actor", po::value<std::string>()->default_value("slotmatch-cli"),
        "who acts: the citizen's gateway, the proxy organisation, the staff user id")(
        "actor-name", po::value<std::string>(), "the staff user's display name")(
        "actor-unit", po::value<std::string>(),
        "the unit a staff member or unit-to-unit proxy acts from")(
        "request-id", po::value<U64>(),
        "request id (a retry with the same id returns the first answer); default: random")(
        "client", po::value<std::string>(), "a stable client name for retries")(
        "role", po::value<std::vector<std::string>>(),
        "region-admin: region-wide and proxy appointment types (R8); with a key, only when its "
        "clients.yaml entry has the role")(
        "key", po::value<std::string>(),
        "DIR/NAME: this client's CurveZMQ key pair (NAME.key, NAME.pub from slotmatch keygen), for "
        "a server started with --keys; the key then decides the channel, actor and name")(
        "server-key", po::value<std::string>(), "FILE: with --key, the server's public key")(
        "timeout-ms", po::value<U32>()->default_value(U32{5000}, "5000"),
        "give up (exit 2) when no reply arrives within this time");
    return o;
}

// The commands in the order --help lists them; `add` starts one and gives its options.
class CommandList {
  public:
    po::options_description& add(std::string name, std::string usage) {
        list_.push_back({std::move(name), std::move(usage), po::options_description("")});
        return list_.back().options;
    }
    po::options_description& last() { return list_.back().options; }
    std::vector<Command> take() { return std::move(list_); }

  private:
    std::vector<Command> list_;
};

// The booking commands: what citizens, proxies and staff do with slots and bookings.
void booking_commands(CommandList& list) {
    const std::string limit_help =
        "at most this many slots (1.." + std::to_string(codec::find_limit_max) + ")";
    const auto add = [&](std::string name, std::string usage) -> po::options_description& {
        return list.add(std::move(name), std::move(usage));
    };
    add("catalog", "catalog [--unit U]")
        .add_options()("unit", po::value<std::string>(), "only this unit");
    add("find", "find --unit U [--type T] [--resource R] [--from DATE] [--to DATE] [--limit N]")
        .add_options()("unit", po::value<std::string>()->required(), "unit id")(
            "type", po::value<std::string>(), "appointment type id")(
            "resource", po::value<std::string>(), "resource id")(
            "from", po::value<std::string>(),
            "first day (inclusive) or ISO 8601 time; default now")(
            "to", po::value<std::string>(), "last day (inclusive) or ISO 8601 time")(
            "limit", po::value<U32>()->default_value(U32{50}, "50"), limit_help.c_str());
    add("hold", "hold --slot S --patient P")
        .add_options()("slot", po::value<U32>()->required(), "slot id")(
            "patient", po::value<std::string>()->required(), "personnummer");
    add("book",
        "book (--slot S | --hold H | --unit U --type T [--resource R] [--from] [--to]) "
        "--patient P [--phone] [--reason] [--from-waitlist]")
        .add_options()("slot", po::value<U32>(), "slot id")("hold", po::value<U64>(), "hold id")(
            "unit", po::value<std::string>(), "unit: book its earliest free match")(
            "type", po::value<std::string>(), "appointment type id")(
            "resource", po::value<std::string>(), "resource id")("from", po::value<std::string>(),
                                                                 "not before (day or time)")(
            "to", po::value<std::string>(), "not after (day, inclusive, or time)")(
            "patient", po::value<std::string>()->required(), "personnummer")(
            "phone", po::value<std::string>(), "phone number (R18)")(
            "reason", po::value<std::string>(), "reason for the visit (R18)")(
            "from-waitlist", "the patient is taken from the unit's waitlist (R22)");
    add("rebook", "rebook --booking B (--slot S | --first) [--patient P]")
        .add_options()("booking", po::value<U64>()->required(), "booking id")(
            "slot", po::value<U32>(), "the new slot")("first", "the earliest free slot allowed")(
            "patient", po::value<std::string>(), "the citizen (web and proxy)");
    add("cancel", "cancel --booking B [--patient P]")
        .add_options()("booking", po::value<U64>()->required(), "booking id")(
            "patient", po::value<std::string>(), "the citizen (web and proxy)");
    add("bookings", "bookings --patient P")
        .add_options()("patient", po::value<std::string>()->required(), "personnummer");
    add("booking", "booking --booking B [--patient P]")
        .add_options()("booking", po::value<U64>()->required(), "booking id (a log row names it)")(
            "patient", po::value<std::string>(),
            "personnummer: needed only for a booking that ended long ago (the log row shows it)");
}

// An appointment type's web information text and flags (admin type set and add; absent: as it
// is, or off for a new type).
void web_setting_options(po::options_description& options) {
    options.add_options()("web-info", po::value<std::string>(),
                          "R1: the information text citizens see")(
        "web-bookable", po::value<std::string>(), "R2: true or false")(
        "web-cancellable", po::value<std::string>(), "R3: true or false")(
        "web-rebookable", po::value<std::string>(), "R4: true or false")(
        "hide-from-patient", po::value<std::string>(), "R6: true clears the three flags");
}

// Administration (staff of the unit): schedules and single slots; ids are given at once and
// kept (docs/engine.md, "Slot identity").
void admin_commands(CommandList& list) {
    list.add("admin schedule publish",
             "admin schedule publish --unit U --resource R --type T --weekdays mon,tue,... "
             "--from HH:MM --to HH:MM --valid-from DATE --valid-to DATE [--window-days N]")
        .add_options()("unit", po::value<std::string>()->required(), "unit id")(
            "resource", po::value<std::string>()->required(), "one of the unit's resources")(
            "type", po::value<std::string>()->required(), "appointment type id")(
            "weekdays", po::value<std::string>()->required(), "e.g. mon,tue,wed,thu,fri")(
            "from", po::value<std::string>()->required(), "first start, local HH:MM")(
            "to", po::value<std::string>()->required(), "end of the last slot, local HH:MM")(
            "valid-from", po::value<std::string>()->required(), "first day, YYYY-MM-DD")(
            "valid-to", po::value<std::string>()->required(), "last day, YYYY-MM-DD")(
            "window-days", po::value<int>()->default_value(0),
            "R10: the slots show on the web from local midnight N - 1 days before their day "
            "(1..366); 0: as the appointment type's day count says");
    list.add("admin schedule extend", "admin schedule extend --schedule S --valid-to DATE")
        .add_options()("schedule", po::value<U32>()->required(), "schedule id")(
            "valid-to", po::value<std::string>()->required(), "the new last day");
    list.add("admin schedule end", "admin schedule end --schedule S --on DATE")
        .add_options()("schedule", po::value<U32>()->required(), "schedule id")(
            "on", po::value<std::string>()->required(),
            "the last day kept: free slots after it are removed (booked ones refuse the end)");
    list.add("admin slot add", "admin slot add --resource R --type T --start ISO8601")
        .add_options()("resource", po::value<std::string>()->required(), "resource id")(
            "type", po::value<std::string>()->required(), "appointment type id")(
            "start", po::value<std::string>()->required(), "ISO 8601 time");
    list.add("admin slot set-type", "admin slot set-type --slot S --type T")
        .add_options()("slot", po::value<U32>()->required(), "slot id")(
            "type", po::value<std::string>()->required(), "the new appointment type");
    list.add("admin slot remove", "admin slot remove --slot S")
        .add_options()("slot", po::value<U32>()->required(), "slot id (a free one)");
    list.add("admin type set",
             "admin type set --type T [--web-name ..] [--web-info ..] [--web-bookable "
             "true|false] [--web-cancellable ..] [--web-rebookable ..] [--hide-from-patient ..] "
             "[--window-days N]")
        .add_options()("type", po::value<std::string>()->required(), "appointment type id")(
            "web-name", po::value<std::string>(), "R1: the name citizens see (\"\": off the web)")(
            "window-days", po::value<U32>(),
            "R10: days ahead the web shows its slots; 0: back to 60 days (R11)");
    web_setting_options(list.last());
    list.add("admin type add",
             "admin type add --type T --name NAME --duration MIN [--unit U] [--web-name ..] "
             "[--web-info ..] [--web-bookable true|false] [--web-cancellable ..] "
             "[--web-rebookable ..] [--hide-from-patient ..] [--window-days N]")
        .add_options()("type", po::value<std::string>()->required(),
                       "the new type's id (new in the region)")(
            "name", po::value<std::string>()->required(),
            "R1: the internal name (\"Ombud\" in it: a proxy type, R8, region-wide)")(
            "duration", po::value<U32>()->required(), "its slots' length in minutes, 1..480")(
            "unit", po::value<std::string>(),
            "local to this unit (its staff); without it region-wide (a region-admin)")(
            "web-name", po::value<std::string>(),
            "R1, R7: the name citizens see (none: never on the web)")(
            "window-days", po::value<U32>(),
            "R10: days ahead the web shows its slots, 1..366 (default: 60 days ahead, R11)");
    web_setting_options(list.last());
    list.add("admin type remove", "admin type remove --type T")
        .add_options()("type", po::value<std::string>()->required(),
                       "R14: out of your unit's schedule (a region-admin: out of the region)");
    list.add("admin unit set",
             "admin unit set --unit U [--case-type boka-tid=true|false] [--case-type "
             "av-omboka-tid=..] [--patient-comment ..] [--terms TEXT] [--terms-cancel-rebook TEXT]")
        .add_options()("unit", po::value<std::string>()->required(), "unit id")(
            "case-type", po::value<std::vector<std::string>>(),
            "R25: boka-tid=true|false (web booking), av-omboka-tid=true|false (web cancel and "
            "rebook)")("patient-comment", po::value<std::string>(), "R18: true or false")(
            "terms", po::value<std::string>(), "R25: the condition text for booking")(
            "terms-cancel-rebook", po::value<std::string>(),
            "R25: the condition text for cancelling and rebooking");
}

// The staff's commands, the records kept, and the tools.
void staff_commands(CommandList& list) {
    const auto add = [&](std::string name, std::string usage) -> po::options_description& {
        return list.add(std::move(name), std::move(usage));
    };
    add("block", "block --resource R --from T --to T [--reason TEXT]")
        .add_options()("resource", po::value<std::string>()->required(), "resource id")(
            "from", po::value<std::string>()->required(), "day or ISO 8601 time")(
            "to", po::value<std::string>()->required(), "day (inclusive) or ISO 8601 time")(
            "reason", po::value<std::string>(), "why (shown to staff)");
    add("unblock", "unblock --block K")
        .add_options()("block", po::value<U64>()->required(), "block id");
    add("waitlist add", "waitlist add --unit U --type T --patient P")
        .add_options()("unit", po::value<std::string>()->required(), "unit id")(
            "type", po::value<std::string>()->required(), "appointment type id")(
            "patient", po::value<std::string>()->required(), "personnummer");
    add("waitlist list", "waitlist list --unit U")
        .add_options()("unit", po::value<std::string>()->required(), "unit id");
    add("waitlist remove", "waitlist remove --entry E")
        .add_options()("entry", po::value<U64>()->required(),
                       "waitlist entry id (waitlist add and waitlist list give it)");
    add("log", "log --unit U [--since DATE] [--table [--color auto|always|never]]")
        .add_options()("unit", po::value<std::string>()->required(), "unit id")(
            "since", po::value<std::string>(),
            "first day (or ISO 8601 time); default: the whole 31 days kept (R20)")(
            "table", "print a table for people instead of JSON (R21)")(
            "color", po::value<std::string>()->default_value("auto"),
            "with --table: before values red, after values green; auto = only when stdout is "
            "a terminal and NO_COLOR is not set");
    add("audit", "audit --patient P [--since DATE]")
        .add_options()("patient", po::value<std::string>()->required(), "personnummer")(
            "since", po::value<std::string>(), "first day (or ISO 8601 time); default: all kept");
    add("keygen", "keygen --out DIR [--name NAME]")
        .add_options()("out", po::value<std::string>()->required(), "directory for the key pair")(
            "name", po::value<std::string>()->default_value("slotmatch"), "file name stem");
    add("stats", "stats");
    add("admin clock", "admin clock --set ISO8601")
        .add_options()("set", po::value<std::string>()->required(), "the new time");
    admin_commands(list);
}

std::vector<Command> commands() {
    CommandList list;
    booking_commands(list);
    staff_commands(list);
    return list.take();
}

void print_overview(std::ostream& out, const std::vector<Command>& list) {
    out << "slotmatch — " << summary
        << "\n\nusage: slotmatch [options] COMMAND [command options]\n\n"
        << "commands:\n";
    for (const Command& c : list) out << "  " << c.usage << '\n';
    out << '\n' << common_options();
}

int usage_error(const std::string& why) {
    std::cerr << "slotmatch: " << why << " (try slotmatch --help)\n";
    return 2;
}

std::optional<Channel> parse_channel(const std::string& s) {
    if (s == "web") return Channel::web;
    if (s == "proxy") return Channel::proxy;
    if (s == "staff") return Channel::staff;
    return std::nullopt;
}

// Where the command word is: after the common options and their values.
std::size_t find_command(int argc, char** argv) {
    static const std::set<std::string> valued = [] {
        std::set<std::string> names;  // the common options that take a value
        const po::options_description common = common_options();
        for (const auto& o : common.options()) {
            if (o->semantic()->max_tokens() > 0) names.insert("--" + o->long_name());
        }
        return names;
    }();
    int i = 1;
    while (i < argc && std::string(argv[i]).rfind("-", 0) == 0) {
        if (valued.count(argv[i])) ++i;
        ++i;
    }
    return static_cast<std::size_t>(i);
}

fb::Offset<fb::String> opt_string(fb::FlatBufferBuilder& b, const po::variables_map& vm,
                                  const char* name) {
    return vm.count(name) ? b.CreateString(vm[name].as<std::string>()) : 0;
}

fb::Offset<wire::Find> find_body(fb::FlatBufferBuilder& b, const po::variables_map& vm,
                                 unsigned limit) {
    const auto unit = b.CreateString(vm["unit"].as<std::string>());
    const auto type = opt_string(b, vm, "type");
    const auto resource = opt_string(b, vm, "resource");
    const auto from = opt_string(b, vm, "from");
    const auto to = opt_string(b, vm, "to");
    return wire::CreateFind(b, unit, type, resource, from, to, limit);
}

// The administration commands' operations (build's).
std::string build_admin(const std::string& cmd, const po::variables_map& vm,
                        client::RequestBuilder& r) {
    fb::FlatBufferBuilder& b = r.fbb();
    if (cmd == "admin schedule publish") {
        std::vector<fb::Offset<fb::String>> days;
        std::stringstream in(vm["weekdays"].as<std::string>());
        for (std::string day; std::getline(in, day, ',');) days.push_back(b.CreateString(day));
        const auto unit = opt_string(b, vm, "unit");
        const auto resource = opt_string(b, vm, "resource");
        const auto type = opt_string(b, vm, "type");
        const auto weekdays = b.CreateVector(days);
        const auto from = opt_string(b, vm, "from");
        const auto to = opt_string(b, vm, "to");
        const auto valid_from = opt_string(b, vm, "valid-from");
        const auto valid_to = opt_string(b, vm, "valid-to");
        r.add(wire::CreatePublishSchedule(b, unit, resource, type, weekdays, from, to, valid_from,
                                          valid_to, vm["window-days"].as<int>()));
    } else if (cmd == "admin schedule extend") {
        r.add(wire::CreateExtendSchedule(b, vm["schedule"].as<U32>().value,
                                         opt_string(b, vm, "valid-to")));
    } else if (cmd == "admin schedule end") {
        r.add(wire::CreateEndSchedule(b, vm["schedule"].as<U32>().value, opt_string(b, vm, "on")));
    } else if (cmd == "admin slot add") {
        const auto resource = opt_string(b, vm, "resource");
        const auto type = opt_string(b, vm, "type");
        r.add(wire::CreateAddSlot(b, resource, type, opt_string(b, vm, "start")));
    } else if (cmd == "admin slot set-type") {
        r.add(wire::CreateSetSlotType(b, vm["slot"].as<U32>().value, opt_string(b, vm, "type")));
    } else if (cmd == "admin slot remove") {
        r.add(wire::CreateRemoveSlot(b, vm["slot"].as<U32>().value));
    }
    return {};
}

// "true" or "false" from option `name` into `out` (absent: left empty); false for anything else.
bool flag(const po::variables_map& vm, const char* name, std::optional<bool>& out) {
    if (!vm.count(name)) return true;
    const std::string v = vm[name].as<std::string>();
    if (v != "true" && v != "false") return false;
    out = v == "true";
    return true;
}

// The settings commands' operations (R9: in force at once).
std::string build_settings(const std::string& cmd, const po::variables_map& vm,
                           client::RequestBuilder& r) {
    fb::FlatBufferBuilder& b = r.fbb();
    if (cmd == "admin type remove") {
        r.add(wire::CreateRemoveType(b, opt_string(b, vm, "type")));
        return {};
    }
    if (cmd == "admin type set" || cmd == "admin type add") {
        std::optional<bool> bookable, cancellable, rebookable, hidden;
        if (!flag(vm, "web-bookable", bookable) || !flag(vm, "web-cancellable", cancellable) ||
            !flag(vm, "web-rebookable", rebookable) || !flag(vm, "hide-from-patient", hidden)) {
            return "the web flags and --hide-from-patient take true or false";
        }
        const auto type = opt_string(b, vm, "type");
        const auto web_name = opt_string(b, vm, "web-name");
        const auto info = opt_string(b, vm, "web-info");
        std::optional<int> window;
        if (vm.count("window-days")) window = static_cast<int>(vm["window-days"].as<U32>().value);
        if (cmd == "admin type set") {
            r.add(wire::CreateSetType(b, type, web_name, info, bookable, cancellable, rebookable,
                                      hidden, window));
            return {};
        }
        const auto name = opt_string(b, vm, "name");
        const auto unit = opt_string(b, vm, "unit");
        const int minutes = static_cast<int>(vm["duration"].as<U32>().value);
        if (window && *window == 0) return "--window-days takes 1..366 (leave it out: 60 days)";
        r.add(wire::CreateAddType(b, type, name, minutes, unit, web_name, info,
                                  bookable.value_or(false), cancellable.value_or(false),
                                  rebookable.value_or(false), hidden.value_or(false),
                                  window.value_or(0)));
        return {};
    }
    std::optional<bool> booking, cancel_rebook, comment;
    if (!flag(vm, "patient-comment", comment)) return "--patient-comment takes true or false";
    if (vm.count("case-type")) {
        for (const std::string& pair : vm["case-type"].as<std::vector<std::string>>()) {
            const auto eq = pair.find('=');
            const std::string name = pair.substr(0, eq), value = pair.substr(eq + 1);
            if (eq == std::string::npos || (value != "true" && value != "false") ||
                (name != "boka-tid" && name != "av-omboka-tid")) {
                return "--case-type takes boka-tid=true|false or av-omboka-tid=true|false";
            }
            (name == "boka-tid" ? booking : cancel_rebook) = value == "true";
        }
    }
    const auto unit = opt_string(b, vm, "unit");
    const auto terms = opt_string(b, vm, "terms");
    const auto terms_cancel = opt_string(b, vm, "terms-cancel-rebook");
    r.add(wire::CreateSetUnit(b, unit, booking, cancel_rebook, comment, terms, terms_cancel));
    return {};
}

// The operation of a command, added to `r`; an empty string, or why the options do not fit.
std::string build(const std::string& cmd, const po::variables_map& vm, client::RequestBuilder& r) {
    if (cmd.rfind("admin schedule ", 0) == 0 || cmd.rfind("admin slot ", 0) == 0) {
        return build_admin(cmd, vm, r);
    }
    if (cmd.rfind("admin type ", 0) == 0 || cmd.rfind("admin unit ", 0) == 0) {
        return build_settings(cmd, vm, r);
    }
    fb::FlatBufferBuilder& b = r.fbb();
    const auto patient = [&] { return opt_string(b, vm, "patient"); };
    if (cmd == "catalog") {
        r.add(wire::CreateGetCatalog(b, opt_string(b, vm, "unit")));
    } else if (cmd == "find") {
        r.add(find_body(b, vm, vm["limit"].as<U32>().value));
    } else if (cmd == "hold") {
        r.add(wire::CreateHold(b, vm["slot"].as<U32>().value, patient()));
    } else if (cmd == "book") {
        const int ways = int(vm.count("slot")) + int(vm.count("hold")) + int(vm.count("unit"));
        if (ways != 1) return "book takes exactly one of --slot, --hold, or --unit with --type";
        if (vm.count("unit") && !vm.count("type")) return "book --unit needs --type";
        const auto match = vm.count("unit") ? find_body(b, vm, 1) : 0;
        const auto p = patient();
        const auto phone = opt_string(b, vm, "phone");
        const auto reason = opt_string(b, vm, "reason");
        wire::BookBuilder book(b);
        if (vm.count("slot")) book.add_slot(vm["slot"].as<U32>().value);
        if (vm.count("hold")) book.add_hold(vm["hold"].as<U64>().value);
        book.add_match(match);
        book.add_patient(p);
        book.add_phone(phone);
        book.add_reason(reason);
        book.add_from_waitlist(vm.count("from-waitlist") > 0);
        r.add(book.Finish());
    } else if (cmd == "rebook") {
        if (vm.count("slot") == vm.count("first")) return "rebook takes --slot S or --first";
        const auto p = patient();
        wire::RebookBuilder rebook(b);
        rebook.add_booking(vm["booking"].as<U64>().value);
        if (vm.count("slot")) rebook.add_slot(vm["slot"].as<U32>().value);
        rebook.add_patient(p);
        r.add(rebook.Finish());
    } else if (cmd == "cancel") {
        r.add(wire::CreateCancel(b, vm["booking"].as<U64>().value, patient()));
    } else if (cmd == "bookings") {
        r.add(wire::CreateBookings(b, patient()));
    } else if (cmd == "booking") {
        const auto p = opt_string(b, vm, "patient");
        r.add(wire::CreateGetBooking(b, vm["booking"].as<U64>().value, p));
    } else if (cmd == "block") {
        const auto resource = opt_string(b, vm, "resource");
        const auto from = opt_string(b, vm, "from");
        const auto to = opt_string(b, vm, "to");
        r.add(wire::CreateBlock(b, resource, from, to, opt_string(b, vm, "reason")));
    } else if (cmd == "unblock") {
        r.add(wire::CreateUnblock(b, vm["block"].as<U64>().value));
    } else if (cmd == "waitlist add") {
        const auto unit = opt_string(b, vm, "unit");
        const auto type = opt_string(b, vm, "type");
        r.add(wire::CreateWaitlistAdd(b, unit, type, patient()));
    } else if (cmd == "waitlist list") {
        r.add(wire::CreateWaitlistList(b, opt_string(b, vm, "unit")));
    } else if (cmd == "waitlist remove") {
        r.add(wire::CreateWaitlistRemove(b, vm["entry"].as<U64>().value));
    } else if (cmd == "stats") {
        r.add(wire::CreateGetStats(b));
    } else if (cmd == "admin clock") {
        r.add(wire::CreateSetClock(b, opt_string(b, vm, "set")));
    } else if (cmd == "log") {
        const std::string color = vm["color"].as<std::string>();
        if (color != "auto" && color != "always" && color != "never") {
            return "--color must be auto, always or never";
        }
        const auto unit = opt_string(b, vm, "unit");
        r.add(wire::CreateGetLog(b, unit, opt_string(b, vm, "since")));
    } else if (cmd == "audit") {
        const auto p = patient();
        r.add(wire::CreateGetAudit(b, p, opt_string(b, vm, "since")));
    }
    return {};
}

// The operations whose replies share a body type with another's but not a JSON shape.
wire::Operation operation_of(const std::string& cmd) {
    if (cmd == "rebook") return wire::Operation::Rebook;
    if (cmd == "cancel") return wire::Operation::Cancel;
    if (cmd == "waitlist add") return wire::Operation::WaitlistAdd;
    if (cmd == "waitlist remove") return wire::Operation::WaitlistRemove;
    if (cmd == "admin schedule end") return wire::Operation::EndSchedule;
    return wire::Operation::NONE;
}

// CurveZMQ key pair: DIR/NAME.key (secret, mode 0600) and DIR/NAME.pub, Z85 text.
int keygen(const po::variables_map& vm) {
    const auto pair = keys::new_key_pair();
    if (!pair) {
        std::cout << tools::refusal_json(ErrorCode::invalid_request, "keygen",
                                         "this libzmq has no CurveZMQ")
                  << '\n';
        return 1;
    }
    const std::string dir = vm["out"].as<std::string>();
    const std::string name = vm["name"].as<std::string>();
    std::string why;
    if (!keys::write_key_pair(dir, name, *pair, why)) {
        std::cerr << "slotmatch: " << why << '\n';
        return 2;
    }
    const std::filesystem::path base(dir);
    std::cout << json{{"ok", true},
                      {"public_key", pair->public_text},
                      {"public_file", (base / (name + ".pub")).string()},
                      {"secret_file", (base / (name + ".key")).string()}}
              << '\n';
    return 0;
}

// The command and its options; nothing, with the exit code, after --help or a usage error.
struct Parsed {
    std::string name;  // the command, "waitlist add" ...
    po::variables_map vm;
};
std::optional<Parsed> parse(int argc, char** argv, const std::vector<Command>& list,
                            int& exit_code) {
    const std::size_t at = find_command(argc, argv);
    if (at >= static_cast<std::size_t>(argc)) {
        const bool help = std::any_of(argv + 1, argv + argc, [](const char* a) {
            return std::string(a) == "--help" || std::string(a) == "-h";
        });
        print_overview(help ? std::cout : std::cerr, list);
        exit_code = help ? 0 : 2;
        return std::nullopt;
    }
    Parsed p{argv[at], {}};
    std::size_t words = 1;
    // "waitlist add", "admin clock", and three words for "admin schedule publish" and the like.
    const auto word = [&](std::size_t i) {
        return i < static_cast<std::size_t>(argc) && argv[i][0] != '-';
    };
    if ((p.name == "waitlist" || p.name == "admin") && word(at + 1)) {
        p.name += std::string(" ") + argv[at + 1];
        words = 2;
    }
    if ((p.name == "admin schedule" || p.name == "admin slot" || p.name == "admin type" ||
         p.name == "admin unit") &&
        word(at + 2)) {
        p.name += std::string(" ") + argv[at + 2];
        words = 3;
    }
    const auto cmd =
        std::find_if(list.begin(), list.end(), [&](const Command& c) { return c.name == p.name; });
    exit_code = 2;
    if (cmd == list.end()) {
        std::string known;  // "admin schedule" alone: the commands it starts
        for (const Command& c : list) {
            if (c.name.rfind(p.name + " ", 0) == 0) known += "\n  " + c.usage;
        }
        usage_error(known.empty() ? "unknown command '" + p.name + "'"
                                  : "'" + p.name + "' is one of:" + known + "\n");
        return std::nullopt;
    }
    po::options_description options = common_options();
    options.add(cmd->options);
    std::vector<std::string> args(argv + 1, argv + at);
    args.insert(args.end(), argv + at + words, argv + argc);
    try {
        po::store(po::command_line_parser(args).options(options).run(), p.vm);
        if (p.vm.count("help")) {
            std::cout << "usage: slotmatch [options] " << cmd->usage << "\n\n" << options;
            exit_code = 0;
            return std::nullopt;
        }
        po::notify(p.vm);
    } catch (const po::error& e) {
        usage_error(p.name + ": " + e.what());
        return std::nullopt;
    }
    return p;
}

// Who acts, from the common options; nothing when the channel is not one.
std::optional<client::Identity> identity(const po::variables_map& vm) {
    client::Identity who;
    const auto channel = parse_channel(vm["channel"].as<std::string>());
    if (!channel) return std::nullopt;
    who.channel = *channel;
    // With a key the server knows who acts; an --actor given must be the key's.
    const bool keyed = vm.count("key") > 0;
    who.actor = keyed && vm["actor"].defaulted() ? std::string() : vm["actor"].as<std::string>();
    if (vm.count("actor-name")) who.actor_name = vm["actor-name"].as<std::string>();
    if (vm.count("actor-unit")) who.actor_unit = vm["actor-unit"].as<std::string>();
    if (vm.count("client")) who.client = vm["client"].as<std::string>();
    if (vm.count("role")) who.roles = vm["role"].as<std::vector<std::string>>();
    return who;
}

// The reply as ARCHITECTURE.md's JSON, with names from `catalog`; nothing when it does not
// carry one result.
std::optional<json> reply_json(const wire::ReplyMessage& m, const std::string& name,
                               const std::optional<Catalog>& catalog) {
    if (m.error()) {
        return tools::refusal_json(codec::from_wire(m.error()->code()),
                                   m.error()->field() ? m.error()->field()->str() : "",
                                   m.error()->message() ? m.error()->message()->str() : "");
    }
    if (!m.results() || m.results()->size() != 1) return std::nullopt;
    const Catalog names = catalog ? *catalog : Catalog{};
    const Calendar calendar(catalog ? catalog->timezone : "Europe/Stockholm");
    return tools::result_json(names, calendar, operation_of(name), *m.results()->Get(0));
}

// Sends the command and prints its reply; the exit code.
int send(const Parsed& p, const client::Identity& who, client::RequestBuilder& request,
         int timeout_ms) {
    const std::string server = p.vm["server"].as<std::string>();
    std::optional<client::CurveKeys> curve;
    if (p.vm.count("key") || p.vm.count("server-key")) {
        if (!p.vm.count("key") || !p.vm.count("server-key")) {
            return usage_error("--key and --server-key go together");
        }
        std::string why;
        curve = client::read_curve_keys(p.vm["key"].as<std::string>(),
                                        p.vm["server-key"].as<std::string>(), why);
        if (!curve) return usage_error(why);
    }
    const std::string unanswered =
        curve ? " (is slotmatchd running, with --keys, and does its clients.yaml list this key?)"
              : " (is slotmatchd running?)";
    client::Connection connection(server, 100'000, curve);
    // Names for the reply (slot, booking and waitlist views carry catalog indices).
    std::optional<Catalog> catalog;
    std::string why;
    if (p.name != "catalog" && p.name != "stats") {
        bool answered = false;
        catalog = client::fetch_catalog(connection, who, timeout_ms, why, &answered);
        // Refused (who acts is not allowed, say): the command's own reply says so, as JSON.
        if (!catalog && !answered) {
            std::cerr << "slotmatch: no answer from " << server << ": " << why
                      << (curve ? unanswered : std::string()) << '\n';
            return 2;
        }
    }
    const std::uint64_t id =
        p.vm.count("request-id") ? p.vm["request-id"].as<U64>().value : client::new_request_id();
    const auto reply = connection.call(request.finish(who, id), id, timeout_ms);
    if (!reply) {
        std::cerr << "slotmatch: no reply from " << server << " within " << timeout_ms << " ms"
                  << unanswered << '\n';
        return 2;
    }
    const std::optional<json> out = reply_json(*reply->message, p.name, catalog);
    if (!out) {
        std::cerr << "slotmatch: the reply does not carry one result\n";
        return 2;
    }
    if (p.name == "log" && p.vm.count("table") && (*out)["ok"].get<bool>()) {
        const std::string color = p.vm["color"].as<std::string>();
        const bool paint = color == "always" || (color == "auto" && ::isatty(STDOUT_FILENO) &&
                                                 std::getenv("NO_COLOR") == nullptr);
        std::cout << tools::log_table(*out, paint);
        return 0;
    }
    // The server checks text is UTF-8; replacing anything else keeps a broken peer from
    // turning a reply into an exception here.
    std::cout << out->dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
    return (*out)["ok"].get<bool>() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    int exit_code = 0;
    const auto parsed = parse(argc, argv, commands(), exit_code);
    if (!parsed) return exit_code;
    if (parsed->name == "keygen") return keygen(parsed->vm);
    const auto who = identity(parsed->vm);
    if (!who) return usage_error("--channel must be web, proxy or staff");
    const std::uint32_t timeout_ms = parsed->vm["timeout-ms"].as<U32>().value;
    if (timeout_ms == 0 || timeout_ms > timeout_ms_max) {
        return usage_error("--timeout-ms must be 1.." + std::to_string(timeout_ms_max));
    }
    client::RequestBuilder request;
    request.start();
    if (const std::string why = build(parsed->name, parsed->vm, request); !why.empty()) {
        return usage_error(why);
    }
    try {
        return send(*parsed, *who, request, static_cast<int>(timeout_ms));
    } catch (const zmq::error_t& e) {
        return usage_error("cannot reach " + parsed->vm["server"].as<std::string>() + ": " +
                           e.what());
    }
}
