// slotmatchd: the engine server. Loads a region, recovers what its store or journal holds, then
// answers slotmatch requests over ZeroMQ (server.hpp has the pipeline) until SIGINT or SIGTERM.
// `--check` only validates the region and prints its lint and summary.
#include <malloc.h>
#include <sys/auxv.h>
#include <unistd.h>
#include <boost/program_options.hpp>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>
#include <zmq.hpp>

#include "program.hpp"
#include "region_image.hpp"
#include "region_file.hpp"
#include "report.hpp"
#include "server.hpp"
#include "service.hpp"
#include "sidecar_link.hpp"
#include "snapshot.hpp"

namespace po = boost::program_options;
using namespace slotmatch;

namespace {

// What the command line asks for, checked.
struct Options {
    std::string config;
    bool check = false;
    std::string listen;
    unsigned threads = 1;
    std::string store;    // --store: the embedded journal's store
    std::string journal;  // --journal: a slotmatch-journal's endpoint
    std::size_t buffer_events = journal::pending_events_default;
    std::string durability;
    std::string clock;  // --clock fixed:...
    bool accept_orphans = false;
    bool standby = false;  // --standby: wait for the store's writer lock, then take over
    std::size_t in_flight_per_connection = tools::ServerOptions{}.in_flight_per_connection_max;
    std::string keys{};                // --keys DIR: CurveZMQ, and the registry of client keys
    std::string key{};                 // --key DIR/NAME: this server's pair on the journal link
    std::string journal_server_key{};  // --journal-server-key FILE: the journal's public key
    std::uint64_t snapshot_every = 2'000'000;  // --snapshot-every
    // Given on the command line (an empty value is given, and refused as such).
    bool has_config = false, has_store = false, has_journal = false, has_clock = false,
         has_keys = false;
};

po::options_description option_descriptions() {
    po::options_description options(
        "slotmatchd --config region.yaml [--listen ENDPOINT] [options]");
    options.add_options()("help,h", "print this help and exit")(
        "config", po::value<std::string>(), "the region config (YAML, see ARCHITECTURE.md)")(
        "check",
        "validate the config, print its lint (R6, R7, R8, R12) and a summary, and exit:\n"
        "0 = loads (warnings allowed), 1 = errors")(
        "listen", po::value<std::string>()->default_value("tcp://127.0.0.1:5555"),
        "ZeroMQ endpoint to serve on (port * picks a free one); without --keys loopback only "
        "(tcp://127.0.0.1:PORT, ipc://PATH), with --keys any interface (tcp://*:PORT)")(
        "keys", po::value<std::string>(),
        "DIR: serve with CurveZMQ. DIR/server.key and DIR/server.pub are the server's pair "
        "(slotmatch keygen --out DIR --name server); DIR/clients.yaml lists the client keys "
        "and who each acts as (ARCHITECTURE.md, \"Keys\"). A key not listed gets no reply; "
        "SIGHUP reloads clients.yaml")(
        "key", po::value<std::string>(),
        "DIR/NAME: with --journal, this server's key pair on the journal link (NAME.key, "
        "NAME.pub)")(
        "journal-server-key", po::value<std::string>(),
        "FILE: with --journal and --key, the slotmatch-journal's public key (its server.pub)")(
        "threads", po::value<unsigned>()->default_value(1),
        "worker threads: 1 answers on the receiving thread; N > 1 routes each request to the "
        "worker that owns its slot's shard")(
        "store", po::value<std::string>(),
        "sqlite:PATH or postgresql://USER@HOST:PORT/DB — keep every event there (the embedded "
        "journal); without it events stay in memory")(
        "journal", po::value<std::string>(),
        "ENDPOINT — send every event to a slotmatch-journal process there (DEALER to its "
        "ROUTER); instead of --store")(
        "journal-buffer-events",
        po::value<std::size_t>()->default_value(journal::pending_events_default),
        ("events queued for the journal or awaiting its acknowledgement (" +
         std::to_string(journal::pending_events_min) + " to " +
         std::to_string(journal::pending_events_max) + ", " + std::to_string(sizeof(Event)) +
         " bytes each, reserved at start); when full, changes are refused with OVERLOADED and "
         "reads go on")
            .c_str())(
        "in-flight-per-connection",
        po::value<std::size_t>()->default_value(
            tools::ServerOptions{}.in_flight_per_connection_max),
        "requests one connection may have unanswered; beyond it OVERLOADED (nothing changed)")(
        "durability", po::value<std::string>()->default_value("persisted"),
        "with --store or --journal: persisted (a reply to a change leaves after its events are "
        "committed) or applied (replies leave at once)")(
        "clock", po::value<std::string>(),
        "fixed:ISO8601 — a clock that stands still until `slotmatch admin clock --set` (tests)")(
        "snapshot-every", po::value<std::uint64_t>()->default_value(2'000'000),
        "with --store: make a snapshot of the store's history (sqlite:PATH: in PATH-snapshots/; "
        "PostgreSQL: in the database) "
        "whenever this many events were committed past the last one, and at a clean stop; a "
        "start reads the newest snapshot and only the events after it. 0: at a clean stop only")(
        "standby",
        "with --store postgresql://...: a hot standby. It loads the region, then waits while "
        "another slotmatchd holds the store's writer lock (the primary), answering nothing "
        "and not listening; meanwhile it lays the region's slots out ahead and follows the "
        "store, folding the events the primary commits into the newest snapshot in memory "
        "every second. Once the lock is free (the primary died or lost its connection) it "
        "recovers from what it followed and the events after it, listens, and is the one "
        "writer (docs/operations.md, \"A hot standby\")")(
        "accept-orphans",
        "with --store or --journal: when the region file ends a schedule past booked slots, keep "
        "those bookings as bookings of slots no longer offered (staff find them with `slotmatch "
        "bookings`) instead of refusing to start");
    return options;
}

// The first thing wrong with the options, or "" (each is a usage error: exit 2).
std::string usage_problem(const Options& o) {
    if (!o.has_config) return "--config is required (try --help)";
    if (o.threads == 0 || o.threads > tools::server_threads_max) {
        return "--threads must be 1.." + std::to_string(tools::server_threads_max);
    }
    if (!o.has_keys && !tools::loopback_only(o.listen)) {
        return "--listen " + o.listen +
               ": without CurveZMQ keys the server binds only to loopback "
               "(tcp://127.0.0.1:PORT, ipc://PATH)";
    }
    if (o.durability != "persisted" && o.durability != "applied") {
        return "--durability must be persisted or applied";
    }
    if (o.has_store && !(o.store.rfind("sqlite:", 0) == 0 && o.store.size() > 7) &&
        o.store.rfind("postgresql://", 0) != 0) {
        return "--store takes sqlite:PATH or postgresql://USER@HOST:PORT/DB";
    }
    if (o.has_store && o.has_journal) return "give --store or --journal, not both";
    if (o.standby && !(o.has_store && o.store.rfind("postgresql://", 0) == 0)) {
        return "--standby follows a PostgreSQL store: give --store postgresql://... (a SQLite "
               "store is one machine's file)";
    }
    if (o.in_flight_per_connection == 0) return "--in-flight-per-connection must be at least 1";
    if (o.has_keys && o.keys.empty())
        return "--keys takes the folder of server.key and clients.yaml";
    if (o.key.empty() != o.journal_server_key.empty()) {
        return "--key and --journal-server-key go together (the journal link's CurveZMQ)";
    }
    if (!o.key.empty() && !o.has_journal) return "--key is for the journal link: give --journal";
    if (o.buffer_events < journal::pending_events_min ||
        o.buffer_events > journal::pending_events_max) {
        return "--journal-buffer-events must be " + std::to_string(journal::pending_events_min) +
               " to " + std::to_string(journal::pending_events_max);
    }
    return {};
}

std::optional<Options> command_line(int argc, char** argv, int& exit_code) {
    const auto parsed = tools::parse_command_line(
        argc, argv, option_descriptions(), "slotmatchd",
        "the slotmatch engine server: answers book, rebook, cancel, hold and find requests over "
        "ZeroMQ (FlatBuffers messages, docs/protocol.md); with --store or --journal every event "
        "is made durable",
        exit_code);
    if (!parsed) return std::nullopt;
    const po::variables_map& vm = *parsed;
    const auto text = [&](const char* name) {
        return vm.count(name) ? vm[name].as<std::string>() : std::string();
    };
    Options o{text("config"),
              vm.count("check") > 0,
              text("listen"),
              vm["threads"].as<unsigned>(),
              text("store"),
              text("journal"),
              vm["journal-buffer-events"].as<std::size_t>(),
              text("durability"),
              text("clock")};
    o.has_config = vm.count("config") > 0;
    o.has_store = vm.count("store") > 0;
    o.has_journal = vm.count("journal") > 0;
    o.has_clock = vm.count("clock") > 0;
    o.accept_orphans = vm.count("accept-orphans") > 0;
    o.standby = vm.count("standby") > 0;
    o.has_keys = vm.count("keys") > 0;
    o.in_flight_per_connection = vm["in-flight-per-connection"].as<std::size_t>();
    o.keys = text("keys");
    o.key = text("key");
    o.journal_server_key = text("journal-server-key");
    o.snapshot_every = vm["snapshot-every"].as<std::uint64_t>();
    if (const std::string problem = usage_problem(o); !problem.empty()) {
        std::cerr << "slotmatchd: " << problem << '\n';
        exit_code = 2;
        return std::nullopt;
    }
    return o;
}

// The embedded journal's store, claimed as its one writer; nothing after saying why.
std::unique_ptr<journal::EventStore> open_store(const std::string& address) {
    std::string why;
    auto store = journal::open_store(address, why, journal::WholeCheck::later);
    if (store && !store->claim_writer(why)) store.reset();
    if (!store) std::cerr << "slotmatchd: cannot use the store: " << why << '\n';
    return store;
}

void say(const std::string& text) { std::cout << ("slotmatchd: " + text + "\n") << std::flush; }

std::optional<journal::Snapshot> newest_snapshot(const journal::EventStore& store,
                                                 const Options& o);

constexpr int standby_prelay_retry_s = 5;

// --standby's head start: the region's first publication group laid out from the snapshot it
// follows (its kept events), or from the store's events, while the primary serves; the
// takeover's recovery keeps it when the store still records the same group (Engine::prelay).
std::size_t prelay(Engine& engine, const journal::EventStore& store,
                   const std::optional<journal::Snapshot>& snapshot) {
    const auto began = std::chrono::steady_clock::now();
    std::string why;
    ConfigArena configs;
    const std::size_t laid = engine.prelay(
        [&](const std::function<bool(const Event&)>& visit, std::string& problem) {
            if (snapshot) return snapshot->each_kept(visit, problem, &configs);
            return store.scan(1, visit, problem);
        },
        why);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - began;
    std::ostringstream text;
    text << "standby: laid out the region's first publication ahead: " << laid << " slots in "
         << std::fixed << std::setprecision(2) << took.count() << " s";
    if (laid == 0) {
        text << " (" << (why.empty() ? "the store records none yet" : why)
             << "; tried again every " << standby_prelay_retry_s << " s)";
    }
    say(text.str());
    return laid;
}

// --standby follows the primary's store: the events committed after the snapshot it holds are
// folded into it (journal::fold_forward, in memory) every standby_follow_ms, so that the
// takeover reads only the events of the last moments, however long the primary served.
constexpr int standby_follow_ms = 1000;
// Says each fold of new events, and the first one always; false after saying why it could
// not fold.
bool follow(const journal::EventStore& store, std::optional<journal::Snapshot>& followed,
            bool first = false) {
    const auto began = std::chrono::steady_clock::now();
    std::size_t read = 0;
    std::string why;
    if (!journal::fold_forward(store, followed, read, why)) {
        say("standby: the store's events cannot be followed now: " + why +
            " (the store is opened again in " + std::to_string(standby_follow_ms) +
            " ms; what was followed is kept if the store still holds its last event, else read "
            "again from the newest snapshot)");
        return false;
    }
    if (read == 0 && !first) return true;
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - began;
    std::ostringstream text;
    text << "standby: followed the store to event " << (followed ? followed->fold.seq : 0)
         << ": " << read << " events folded in " << std::fixed << std::setprecision(2)
         << took.count() << " s, " << (followed ? followed->kept_seqs.size() : 0) << " kept";
    say(text.str());
    return true;
}

// --standby: the store, once this process holds its writer lock (tried every
// standby_poll_ms), and in `followed` its events as followed until then (the shelf's newest
// snapshot, when that is newer); nothing when stopped first (SIGTERM) or when the store cannot
// be opened.
constexpr int standby_poll_ms = 100;
std::unique_ptr<journal::EventStore> take_over(Engine& engine, const Options& o,
                                               std::optional<journal::Snapshot>& followed) {
    const std::string& address = o.store;
    std::string why;
    auto store = journal::open_store(address, why, journal::WholeCheck::later);
    if (!store) {
        std::cerr << "slotmatchd: cannot use the store: " << why << '\n';
        return nullptr;
    }
    say("standby: another slotmatchd holds the store " + address +
        " (its writer lock); waiting to take over, answering nothing");
    followed = newest_snapshot(*store, o);
    bool laid = prelay(engine, *store, followed) > 0;
    bool following = follow(*store, followed, true);
    auto followed_at = std::chrono::steady_clock::now();
    for (int polls = 1; !store->claim_writer(why); ++polls) {
        if (tools::stop_requested.load()) return nullptr;
        std::this_thread::sleep_for(std::chrono::milliseconds(standby_poll_ms));
        if (!laid && polls % (standby_prelay_retry_s * 1000 / standby_poll_ms) == 0) {
            laid = prelay(engine, *store, followed) > 0;
        }
        if (std::chrono::steady_clock::now() - followed_at <
            std::chrono::milliseconds(standby_follow_ms)) {
            continue;
        }
        if (!following) {
            // Its connection may be lost (the database restarted: the store's reads and the
            // lock's tries do not come back on their own), or the store rolled back: a new
            // connection, and the newest snapshot it holds.
            std::string again_why;
            auto again = journal::open_store(address, again_why, journal::WholeCheck::later);
            if (again) {
                store = std::move(again);
                // What was followed stays when the store still holds its last event as folded.
                std::string gone;
                if (!followed || !journal::matches_store(*followed, *store, gone)) {
                    followed = newest_snapshot(*store, o);
                }
            } else {
                say("standby: the store cannot be opened again now: " + again_why);
            }
        }
        following = follow(*store, followed, !following);
        followed_at = std::chrono::steady_clock::now();
    }
    say("standby: the store's writer lock is free (the primary is gone): taking over");
    // What it followed is recovered from, when the store still holds it as followed and the
    // primary's last snapshot is not newer.
    if (followed && !journal::matches_store(*followed, *store, why)) {
        say("standby: what it followed is not used: " + why);
        followed.reset();
    }
    std::string no_shelf;
    const auto shelf = journal::SnapshotShelf::of_store(o.store, no_shelf);
    const std::vector<std::uint64_t> on_shelf = shelf ? shelf->seqs() : std::vector<std::uint64_t>{};
    if (!followed || (!on_shelf.empty() && on_shelf.front() > followed->fold.seq)) {
        std::optional<journal::Snapshot> newest = newest_snapshot(*store, o);
        if (newest && (!followed || newest->fold.seq > followed->fold.seq)) {
            followed = std::move(newest);
        }
    }
    return store;
}

// Recovery: the engine continues from every event the store (or the journal's) holds: from its
// newest snapshot and the events after it, where it has one.
// `from_snapshot`: whether it did (and left the check of the whole store for later).
// The newest snapshot of the store (--store) that reads and checks; each one passed over is
// said, with why.
std::optional<journal::Snapshot> newest_snapshot(const journal::EventStore& store,
                                                 const Options& o) {
    std::string no_shelf;
    const auto shelf = journal::SnapshotShelf::of_store(o.store, no_shelf);
    if (!shelf) return std::nullopt;
    return journal::newest_snapshot(*shelf, store, [](const std::string& why) {
        say(why + "; the one before it is tried, then a replay of every event");
    });
}

// The region file as loaded, and its image for the snapshots (--store).
struct Region {
    LoadResult loaded;
    std::string image;
};

// The region file: from the snapshot's image when the file is byte for byte the one the
// snapshot was made with (no YAML parse: region_image.hpp), else parsed.
Region load_region(const Options& o, const journal::Snapshot* snapshot) {
    Region region;
    const auto text = journal::read_region_text(o.config);
    if (!text) {
        region.loaded = load_region_file(o.config);  // says why it cannot be read
        return region;
    }
    if (snapshot && !snapshot->region.empty() && !o.check) {
        std::string why;
        if (auto kept = journal::decode_region(snapshot->region, text->key, why)) {
            say("region file " + o.config + " unchanged since the snapshot at event " +
                std::to_string(snapshot->fold.seq) + ": its catalog is read from the snapshot");
            region.loaded = std::move(*kept);
            region.image = snapshot->region;
            return region;
        }
        if (!why.empty()) say("the snapshot's region file is not used: " + why);
    }
    region.loaded = load_region_text(text->text, o.config);
    if (o.has_store && region.loaded.ok()) {
        region.image = journal::encode_region(text->key, region.loaded);
    }
    return region;
}

// `snapshot`: with --store, the store's newest (newest_snapshot), or what a standby followed.
bool recover(Engine& engine, journal::EventStore* store, const Options& o,
             const journal::LinkKeys& link, std::optional<journal::Snapshot>& snapshot,
             bool& from_snapshot) {
    zmq::context_t ctx(1);
    // The stored events from a number on: the store's, or the journal's over the link.
    std::function<bool(std::uint64_t, const std::function<bool(const Event&)>&, std::string&)>
        events_from;
    std::string source;
    if (store) {
        // Without a snapshot every event is read: the store is checked whole first, as
        // before there were snapshots. From one, the check is the Snapshotter's, after start.
        std::string damage;
        if (!snapshot && store->check_whole(damage) != journal::EventStore::PageCheck::sound) {
            std::cerr << "slotmatchd: cannot use the store: " << o.store << ": " << damage << '\n';
            return false;
        }
        events_from = [store](std::uint64_t from, const auto& visit, std::string& why) {
            return store->scan(from, visit, why);
        };
        source = o.store;
        if (snapshot) {
            say("recovering from " +
                std::string(snapshot->file_bytes == 0 ? "the events followed up to event "
                                                      : "the snapshot at event ") +
                std::to_string(snapshot->fold.seq) +
                " (" + std::to_string(snapshot->kept_seqs.size()) + " events kept) and the " +
                std::to_string(store->last_seq() - snapshot->fold.seq) + " events after it");
        }
    } else if (o.has_journal) {
        std::string not_used;
        snapshot = journal::fetch_remote_snapshot(ctx, o.journal, link, not_used);
        if (!snapshot && !not_used.empty()) say(not_used + "; a replay of every event instead");
        events_from = [&](std::uint64_t from, const auto& visit, std::string& why) {
            return journal::scan_remote(ctx, o.journal, link, visit, why, from);
        };
        source = "the journal at " + o.journal;
        if (snapshot) {
            say("recovering from the journal's snapshot at event " +
                std::to_string(snapshot->fold.seq) + " (" +
                std::to_string(snapshot->kept_seqs.size()) + " events kept) and the events after it");
        }
    }
    if (!events_from) return true;
    from_snapshot = snapshot.has_value();
    // The snapshot's kept events, then the events after it (or every event).
    const EventScan scan = [&](const std::function<bool(const Event&)>& visit, std::string& why) {
        if (snapshot) {
            bool stopped = false;
            ConfigArena configs;
            const bool read = snapshot->each_kept(
                [&](const Event& e) { return !(stopped = !visit(e)); }, why, &configs);
            if (!read) return false;
            if (stopped) return true;
        }
        return events_from(snapshot ? snapshot->fold.seq + 1 : 1, visit, why);
    };
    // The snapshot's kept events alone: its first publication is laid out from them while the
    // events after it are read (Engine::restore).
    const EventScan kept = [&](const std::function<bool(const Event&)>& visit, std::string& why) {
        ConfigArena configs;
        return snapshot->each_kept(visit, why, &configs);
    };
    const auto began = std::chrono::steady_clock::now();
    std::string why;
    const auto restored = engine.restore(scan, why, snapshot ? &snapshot->fold : nullptr,
                                         snapshot ? &kept : nullptr);
    if (!restored) {
        std::cerr << "slotmatchd: cannot start from " << source << ": " << why << '\n';
        return false;
    }
    if (restored->events == 0) return true;
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - began;
    std::cout << "slotmatchd: recovered " << restored->events << " events from " << source << " in "
              << std::fixed << std::setprecision(2) << took.count() << " s"
              << (restored->prelaid_slots > 0
                      ? " (the first publication's " + std::to_string(restored->prelaid_slots) +
                            " slots were laid out ahead)"
                      : std::string())
              << ": " << restored->bookings
              << " bookings, " << restored->holds << " holds, " << restored->blocks << " blocks, "
              << restored->waitlist << " waiting, " << restored->published_slots
              << " published slots, " << restored->type_changes << " type changes, "
              << restored->type_removals << " type removals, " << restored->schedules
              << " schedules (" << restored->schedules_ended << " ended); state hash "
              << tools::hex(engine.state_hash()) << std::endl;
    return true;
}

// --keys: the server's pair and the registry of client keys, whose units must be the region's.
// False after saying why.
bool open_keys(const Options& o, const Engine& engine, keys::KeyPair& pair,
               std::unique_ptr<keys::KeyRing>& ring) {
    if (!o.has_keys) return true;
    std::string why;
    auto read = keys::read_key_pair(o.keys + "/server", why);
    if (!read) {
        std::cerr << "slotmatchd: --keys " << o.keys << ": " << why << " (slotmatch keygen --out "
                  << o.keys << " --name server writes the pair)\n";
        return false;
    }
    pair = *read;
    ring = keys::KeyRing::open(
        o.keys + "/clients.yaml",
        [&engine](std::string_view unit) { return engine.catalog().find_unit(std::string(unit)); },
        why);
    if (!ring) {
        std::cerr << "slotmatchd: --keys " << o.keys << ": clients.yaml is not usable:\n"
                  << why << '\n';
        return false;
    }
    std::size_t per_channel[4] = {};
    for (const keys::KeyHolder& h : ring->current().holders()) {
        ++per_channel[static_cast<std::size_t>(h.channel)];
    }
    std::cout << "slotmatchd: CurveZMQ with the keys in " << o.keys << ": server key "
              << pair.public_text << "; " << ring->current().holders().size() << " client keys ("
              << per_channel[0] << " web, " << per_channel[1] << " proxy, " << per_channel[2]
              << " staff); SIGHUP reloads clients.yaml" << std::endl;
    return true;
}

// --key and --journal-server-key: the journal link's CurveZMQ. False after saying why.
bool open_link_keys(const Options& o, journal::LinkKeys& link) {
    if (o.key.empty()) return true;
    std::string why;
    const auto mine = keys::read_key_pair(o.key, why);
    const auto journal_public =
        mine ? keys::read_key_file(o.journal_server_key, why) : std::nullopt;
    if (!journal_public) {
        std::cerr << "slotmatchd: the journal link's keys: " << why << '\n';
        return false;
    }
    link = {*mine, *journal_public};
    return true;
}

// The web booking log and the audit are read through a connection of their own, never the
// journal's (--store); through the sidecar they are asked of it (--journal).
bool connect_queries(tools::Service& service, Engine& engine, const Options& o,
                     std::unique_ptr<journal::StoreQueries>& queries) {
    if (o.has_journal) {
        service.set_store_queries(nullptr, "this slotmatchd sends its events to the journal at " +
                                               o.journal +
                                               ", which keeps the web booking log: ask it there "
                                               "(slotmatch --server " +
                                               o.journal + " log ...)");
    }
    if (!o.has_store) return true;
    std::string why;
    auto reader = journal::open_reader(o.store, why);
    if (!reader) {
        std::cerr << "slotmatchd: cannot open a reader on the store: " << why << '\n';
        return false;
    }
    queries = std::make_unique<journal::StoreQueries>(
        engine.catalog(), engine.calendar(), std::move(reader), [&engine] { return engine.now(); });
    service.set_store_queries(queries.get(), {});
    return true;
}

void print_start(const Options& o, const Engine& engine, bool fixed_clock) {
    const std::string events =
        o.has_store     ? "events journalled to " + o.store + " (" + o.durability + ")"
        : o.has_journal ? "events sent to the journal at " + o.journal + " (" + o.durability + ")"
                        : std::string("events kept in memory only");
    std::cout << "slotmatchd: region " << o.config << ": " << engine.catalog().units.size()
              << " units, " << engine.slot_count() << " slots; clock "
              << (fixed_clock ? "fixed at " + engine.calendar().format(engine.now())
                              : std::string("real"))
              << "; " << o.threads << " thread(s); " << events << '\n';
    const EngineRoom room = engine.room();
    std::cout << "slotmatchd: room for " << room.bookings << " bookings, " << room.holds
              << " holds, " << room.waitlist << " waiting patients and " << room.blocks
              << " blocks at once" << std::endl;
}

void print_stop(const tools::ServerCounters& counters, const Engine& engine, bool journalled) {
    if (journalled)
        std::cout << "slotmatchd: state hash " << tools::hex(engine.state_hash()) << '\n';
    std::cout << "slotmatchd: stopped after " << counters.messages.load() << " messages ("
              << counters.operations.load() << " operations, " << counters.events_published.load()
              << " events"
              << (journalled
                      ? ", " + std::to_string(counters.events_committed.load()) + " committed"
                      : std::string())
              << ")" << std::endl;
}

// Loads the region and serves it; the process's exit code.
int run(const Options& o) {
    // With keys, SIGHUP reloads the registry: blocked before any thread is born (the start-up's
    // oneTBB workers too), so that only serve() lets it in, on its own thread.
    if (o.has_keys && !o.check) tools::install_reload_handler();
    // The store and its newest snapshot come first: the snapshot may spare the YAML's parse.
    // A standby takes its store over later, and reads the snapshot then.
    std::unique_ptr<journal::EventStore> store;
    std::optional<journal::Snapshot> snapshot;
    if (o.has_store && !o.check && !o.standby) {
        if (!(store = open_store(o.store))) return 1;
        snapshot = newest_snapshot(*store, o);
    }
    Region region = load_region(o, snapshot ? &*snapshot : nullptr);
    LoadResult& loaded = region.loaded;
    if (o.check || !loaded.diagnostics.empty()) {
        std::cout << "Checking " << o.config << '\n';
        tools::print_diagnostics(std::cout, loaded);
        if (!loaded.ok()) return 1;
    }
    RealClock real;
    FixedClock fixed{Instant{0}};
    if (o.has_clock) {
        std::string why;
        auto t = tools::parse_fixed_clock(Calendar(loaded.catalog->timezone), o.clock, why);
        if (!t) {
            std::cerr << "slotmatchd: " << why << '\n';
            return 2;
        }
        fixed.set(*t);
    }
    EngineLimits limits;
    limits.events_max = tools::event_lane_events(o.threads);
    // With a store the slots are what the store records (restore lays out the region file's
    // seed only where it records none); without one, the region file's schedules at once.
    const bool journalled = o.has_store || o.has_journal;
    Engine engine(std::move(*loaded.catalog), o.has_clock ? static_cast<Clock&>(fixed) : real,
                  limits, journalled ? Engine::Seed::none : Engine::Seed::publish);
    if (o.check) {
        std::cout << '\n';
        tools::print_region_summary(std::cout, engine);
        return 0;
    }
    keys::KeyPair server_pair;
    std::unique_ptr<keys::KeyRing> ring;
    journal::LinkKeys link;
    if (!open_keys(o, engine, server_pair, ring) || !open_link_keys(o, link)) return 1;
    if (o.standby) {
        tools::install_stop_handlers();
        if (!(store = take_over(engine, o, snapshot))) {
            return tools::stop_requested.load() ? 0 : 1;
        }
    }
    bool from_snapshot = false;
    if (!recover(engine, store.get(), o, link, snapshot, from_snapshot)) return 1;
    // The newest snapshot keeps another region image (the file changed, or another build made
    // it): the Snapshotter makes it again with this one.
    // (What a standby followed from no snapshot holds no image: nothing to make again.)
    const bool region_new = snapshot && !region.image.empty() &&
                            region.image != snapshot->region &&
                            (snapshot->file_bytes != 0 || !snapshot->region.empty());
    snapshot.reset();
    std::optional<journal::Snapshotter> snapshots;
    // SQLite's checks of every page, which the start left for later: of the store when it
    // started from a snapshot (else recover() checked it), and of the web booking log's and
    // audit's entries always (PostgreSQL has neither).
    const bool sqlite = o.store.rfind("sqlite:", 0) == 0;
    if (o.has_store) {
        snapshots.emplace(o.store, o.snapshot_every,
                          journal::StoreChecks{from_snapshot && sqlite, sqlite}, say,
                          std::move(region.image), region_new);
    }
    // Give the start-up's heap back to the system: the YAML's nodes, the layout's pieces
    // (expand_group) and the recovery's maps (a national region: 1.8 GB resident before this
    // was done, 1.2 after; bench/README.md, "Start-up of a national region").
    ::malloc_trim(0);
    tools::ServerCounters counters;
    tools::Service service(engine, o.has_clock ? &fixed : nullptr, counters);
    std::unique_ptr<journal::StoreQueries> queries;
    if (!connect_queries(service, engine, o, queries)) return 1;
    tools::install_stop_handlers();
    counters.keys = ring != nullptr;
    counters.durability = journalled ? o.durability : "memory";
    print_start(o, engine, o.has_clock);
    tools::ServerOptions server{
        .listen = o.listen, .threads = o.threads, .persisted = o.durability == "persisted"};
    server.in_flight_per_connection_max = o.in_flight_per_connection;
    server.keys = ring.get();
    server.server_key = server_pair;
    server.reload = &tools::reload_requested;
    tools::Startup startup;
    if (journalled) {
        startup = [&](const std::function<void()>& make_room) {
            return tools::apply_region_file(engine, o.accept_orphans, make_room, std::cout,
                                            std::cerr);
        };
    }
    const int rc = tools::serve(
        service, counters, server, {std::move(store), o.journal, link, o.buffer_events},
        tools::stop_requested,
        [](const std::string& endpoint) {
            std::cout << "slotmatchd: listening on " << endpoint << std::endl;
        },
        startup);
    if (snapshots) snapshots->finish();  // the journal has committed its last event
    if (rc != 0) return rc;
    print_stop(counters, engine, journalled);
    return 0;
}

// The start lays a region's slots out in memory no process has touched before: a national
// region's 23 M slots take about 1 GB, and on this kind of machine (a virtual one) a page's first
// touch is what costs, 4 KiB at a time. glibc's malloc asks the kernel for transparent huge pages
// (2 MiB) for its larger blocks when the tunable glibc.malloc.hugetlb=1 is set, and a tunable is
// read only as the process starts: so slotmatchd starts itself again, once, with it added to
// GLIBC_TUNABLES, unless that already names the tunable (set it to 0 to keep 4 KiB pages).
// The slot table, mapped directly, asks for huge pages itself (ZeroedArray, Filling::dense).
// With both, a national restart from its snapshot took 3.0-5.4 s instead of 8.6-9.3 s (bench/
// README.md, "Huge pages, 24-byte seeds, the state hash on every core").
// Once only: a program run in secure mode (setuid, file capabilities) has the tunable taken out
// of its environment by glibc, so the restarted one is told by a variable of its own that it
// was restarted, and such a program is not restarted at all.
void restart_with_huge_pages(char** argv) {
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
    // A sanitizer's own allocator ignores the tunable, and its start is slow: no restart.
    (void)argv;
    return;
#endif
    constexpr std::string_view tunable = "glibc.malloc.hugetlb";
    constexpr const char* restarted = "SLOTMATCHD_RESTARTED_FOR_HUGE_PAGES";
    if (::getauxval(AT_SECURE) != 0) return;
    if (std::getenv(restarted) != nullptr) {
        ::unsetenv(restarted);
        return;
    }
    const char* set = std::getenv("GLIBC_TUNABLES");
    const std::string before = set != nullptr ? set : "";
    if (before.find(tunable) != std::string::npos) return;
    const std::string tunables = before + (before.empty() ? "" : ":") + std::string(tunable) + "=1";
    if (::setenv("GLIBC_TUNABLES", tunables.c_str(), 1) != 0 ||
        ::setenv(restarted, "1", 1) != 0) {
        return;
    }
    ::execv("/proc/self/exe", argv);
    // Failed: go on with 4 KiB pages, and the environment as it was.
    ::unsetenv(restarted);
    if (set == nullptr) {
        ::unsetenv("GLIBC_TUNABLES");
    } else {
        ::setenv("GLIBC_TUNABLES", before.c_str(), 1);
    }
}

}  // namespace

int main(int argc, char** argv) {
    restart_with_huge_pages(argv);
    int exit_code = 0;
    const auto options = command_line(argc, argv, exit_code);
    if (!options) return exit_code;
    return run(*options);
}
