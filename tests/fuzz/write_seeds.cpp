// Writes the fuzz target's seed corpus (tests/fuzz/corpus): valid messages of every operation,
// alone and in batches, each under every key choice (fuzz_region.hpp), built with the client
// library as the CLI builds them. Run from the repository root after a schema change:
//   build/debug/tests/fuzz/slotmatch_fuzz_seeds tests/fuzz/corpus
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "client.hpp"
#include "fuzz_region.hpp"

namespace fb = flatbuffers;
using namespace slotmatch;

namespace {

using Add = std::function<void(client::RequestBuilder&)>;

fb::Offset<fb::String> s(client::RequestBuilder& r, const char* text) {
    return r.fbb().CreateString(text);
}

const char* const patient = "191212121212";
const char* const other = "198001011108";

std::vector<std::pair<std::string, Add>> operations() {
    std::vector<std::pair<std::string, Add>> ops;
    const auto add = [&](std::string name, Add a) {
        ops.emplace_back(std::move(name), std::move(a));
    };
    add("find",
        [](auto& r) { r.add(wire::CreateFind(r.fbb(), s(r, "u1"), s(r, "all3"), 0, 0, 0, 5)); });
    add("find-range", [](auto& r) {
        r.add(wire::CreateFind(r.fbb(), s(r, "u1"), 0, s(r, "r1"), s(r, "2026-03-03"),
                               s(r, "2026-03-05"), 50));
    });
    add("hold", [](auto& r) { r.add(wire::CreateHold(r.fbb(), 3, s(r, patient))); });
    add("book-slot", [](auto& r) { r.add(wire::CreateBook(r.fbb(), 2, {}, 0, s(r, patient))); });
    add("book-ombud", [](auto& r) { r.add(wire::CreateBook(r.fbb(), 61, {}, 0, s(r, other))); });
    add("book-hold", [](auto& r) { r.add(wire::CreateBook(r.fbb(), {}, 1, 0, s(r, patient))); });
    add("book-match", [](auto& r) {
        const auto match = wire::CreateFind(r.fbb(), s(r, "u1"), s(r, "all3"), 0, 0, 0, 1);
        r.add(wire::CreateBook(r.fbb(), {}, {}, match, s(r, other), s(r, "0701234567"),
                               s(r, "ont i halsen")));
    });
    add("rebook", [](auto& r) { r.add(wire::CreateRebook(r.fbb(), 1, 4, s(r, patient))); });
    add("rebook-first", [](auto& r) { r.add(wire::CreateRebook(r.fbb(), 1, {}, s(r, patient))); });
    add("cancel", [](auto& r) { r.add(wire::CreateCancel(r.fbb(), 1, s(r, patient))); });
    add("bookings", [](auto& r) { r.add(wire::CreateBookings(r.fbb(), s(r, patient))); });
    add("block", [](auto& r) {
        r.add(wire::CreateBlock(r.fbb(), s(r, "r1"), s(r, "2026-03-04T08:00:00+01:00"),
                                s(r, "2026-03-04T09:00:00+01:00"), s(r, "utbildning")));
    });
    add("unblock", [](auto& r) { r.add(wire::CreateUnblock(r.fbb(), 1)); });
    add("waitlist-add", [](auto& r) {
        r.add(wire::CreateWaitlistAdd(r.fbb(), s(r, "u1"), s(r, "all3"), s(r, patient)));
    });
    add("waitlist-list", [](auto& r) { r.add(wire::CreateWaitlistList(r.fbb(), s(r, "u1"))); });
    add("waitlist-remove", [](auto& r) { r.add(wire::CreateWaitlistRemove(r.fbb(), 1)); });
    add("booking", [](auto& r) { r.add(wire::CreateGetBooking(r.fbb(), 1, s(r, patient))); });
    add("catalog", [](auto& r) { r.add(wire::CreateGetCatalog(r.fbb(), s(r, "u1"))); });
    add("stats", [](auto& r) { r.add(wire::CreateGetStats(r.fbb())); });
    add("clock",
        [](auto& r) { r.add(wire::CreateSetClock(r.fbb(), s(r, "2026-03-03T12:00:00+01:00"))); });
    add("log", [](auto& r) { r.add(wire::CreateGetLog(r.fbb(), s(r, "u1"), s(r, "2026-03-01"))); });
    add("audit", [](auto& r) { r.add(wire::CreateGetAudit(r.fbb(), s(r, patient))); });
    add("publish", [](auto& r) {
        const auto days = r.fbb().CreateVector(std::vector{s(r, "mon"), s(r, "wed")});
        r.add(wire::CreatePublishSchedule(r.fbb(), s(r, "u1"), s(r, "r2"), s(r, "all3"), days,
                                          s(r, "14:00"), s(r, "15:00"), s(r, "2026-03-02"),
                                          s(r, "2026-03-20"), 7));
    });
    add("extend",
        [](auto& r) { r.add(wire::CreateExtendSchedule(r.fbb(), 0, s(r, "2026-03-27"))); });
    add("end", [](auto& r) { r.add(wire::CreateEndSchedule(r.fbb(), 0, s(r, "2026-03-06"))); });
    add("add-slot", [](auto& r) {
        r.add(wire::CreateAddSlot(r.fbb(), s(r, "r1"), s(r, "all3"),
                                  s(r, "2026-03-04T15:00:00+01:00")));
    });
    add("set-slot-type",
        [](auto& r) { r.add(wire::CreateSetSlotType(r.fbb(), 5, s(r, "hidden"))); });
    add("remove-slot", [](auto& r) { r.add(wire::CreateRemoveSlot(r.fbb(), 6)); });
    add("set-type", [](auto& r) {
        r.add(wire::CreateSetType(r.fbb(), s(r, "all3"), s(r, "Nya besvär"), s(r, "Ta med"), true,
                                  false, true, false, 14));
    });
    add("add-type", [](auto& r) {
        r.add(wire::CreateAddType(r.fbb(), s(r, "vacc"), s(r, "Vaccination"), 10, s(r, "u1"),
                                  s(r, "Vaccination"), 0, true, true, false, false, 30));
    });
    add("remove-type", [](auto& r) { r.add(wire::CreateRemoveType(r.fbb(), s(r, "norecancel"))); });
    add("set-unit", [](auto& r) {
        r.add(wire::CreateSetUnit(r.fbb(), s(r, "u2"), true, true, false, s(r, "Villkor"), 0));
    });
    return ops;
}

void write(const std::filesystem::path& file, std::uint8_t key, std::span<const std::uint8_t> m) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.put(static_cast<char>(key));
    out.write(reinterpret_cast<const char*>(m.data()), static_cast<std::streamsize>(m.size()));
}

// "k<key>-<name>", by appends ("k" + std::to_string(...) meets g++ 12's false -Wrestrict at -O3).
std::string seed_name(std::uint8_t key, std::string_view name) {
    std::string s = "k";
    s.append(std::to_string(key)).append("-").append(name);
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: slotmatch_fuzz_seeds DIR\n";
        return 2;
    }
    const std::filesystem::path dir = argv[1];
    std::filesystem::create_directories(dir);
    const auto ops = operations();
    // Who the request's own actor says it is (the "none" key choice takes it as it stands).
    const client::Identity staff{Channel::staff, "s1", "Sara", "u1", "fuzz", {"region-admin"}};
    const client::Identity web{Channel::web, "1177-gateway", "", "", "fuzz", {}};
    int written = 0;
    for (std::uint8_t key = 0; key < fuzz::key_choices; ++key) {
        const client::Identity& who = key == 0 || key == 3 || key == 4 ? staff : web;
        std::uint64_t id = 1;
        client::RequestBuilder r;
        for (const auto& [name, make] : ops) {
            r.start();
            make(r);
            write(dir / seed_name(key, name), key, r.finish(who, id++));
            ++written;
        }
        // A batch: book, read, rebook, cancel in one message.
        r.start();
        for (const char* name :
             {"book-slot", "bookings", "rebook", "cancel", "hold", "book-hold"}) {
            for (const auto& [n, make] : ops) {
                if (n == name) make(r);
            }
        }
        write(dir / seed_name(key, "batch"), key, r.finish(who, id++));
        ++written;
    }
    std::cout << "wrote " << written << " seeds into " << dir.string() << '\n';
    return 0;
}
