// slotmatchd: the engine server. Loads a region, then answers slotmatch requests over ZeroMQ
// (tools/src/server.hpp has the pipeline) until SIGINT or SIGTERM. `--check` only validates
// the region and prints its lint and summary.
#include <boost/program_options.hpp>
#include <chrono>
#include <csignal>
#include <iomanip>
#include <iostream>
#include <zmq.hpp>

#include "cli.hpp"
#include "report.hpp"
#include "server.hpp"
#include "service.hpp"
#include "sidecar_link.hpp"

namespace po = boost::program_options;
using namespace slotmatch;

namespace {

// Without CurveZMQ keys the server may only be reached from this machine.
bool loopback_only(const std::string& endpoint) {
    for (const char* prefix :
         {"tcp://127.", "tcp://localhost:", "tcp://[::1]:", "ipc://", "inproc://"}) {
        if (endpoint.rfind(prefix, 0) == 0) return true;
    }
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    po::options_description options(
        "slotmatchd --config region.yaml [--listen ENDPOINT] [options]");
    options.add_options()("help,h", "print this help and exit")(
        "config", po::value<std::string>(), "the region config (YAML, see ARCHITECTURE.md)")(
        "check",
        "validate the config, print its lint (R6, R7, R8, R12) and a summary, and exit:\n"
        "0 = loads (warnings allowed), 1 = errors")(
        "listen", po::value<std::string>()->default_value("tcp://127.0.0.1:5555"),
        "ZeroMQ endpoint to serve on (loopback only; port * picks a free one)")(
        "threads", po::value<unsigned>()->default_value(1),
        "worker threads: 1 answers on the receiving thread; N > 1 routes each request to the "
        "worker that owns its slot's shard")(
        "store", po::value<std::string>(),
        "sqlite:PATH or postgresql://USER@HOST:PORT/DB — keep every event there (the embedded "
        "journal); without it "
        "events stay in memory")(
        "journal", po::value<std::string>(),
        "ENDPOINT — send every event to a slotmatch-journal process there (DEALER to its "
        "ROUTER); instead of --store")(
        "journal-buffer-events",
        po::value<std::size_t>()->default_value(journal::pending_events_default),
        "events queued for the journal or awaiting its acknowledgement (at least 1024); when "
        "full, changes are refused with OVERLOADED and reads go on")(
        "durability", po::value<std::string>()->default_value("persisted"),
        "with --store or --journal: persisted (a reply to a change leaves after its events are "
        "committed) "
        "or applied (replies leave at once)")(
        "clock", po::value<std::string>(),
        "fixed:ISO8601 — a clock that stands still until `slotmatch admin clock --set` (tests)");
    int exit_code = 0;
    const auto parsed = tools::parse_command_line(
        argc, argv, options, "slotmatchd",
        "the slotmatch engine server: answers book, rebook, cancel, hold and find requests over "
        "ZeroMQ (FlatBuffers messages, docs/protocol.md); with --store or --journal every event "
        "is made durable",
        exit_code);
    if (!parsed) return exit_code;
    const auto& vm = *parsed;
    if (!vm.count("config")) {
        std::cerr << "slotmatchd: --config is required (try --help)\n";
        return 2;
    }
    const auto threads = vm["threads"].as<unsigned>();
    const auto listen = vm["listen"].as<std::string>();
    if (threads == 0 || threads > tools::server_threads_max) {
        std::cerr << "slotmatchd: --threads must be 1.." << tools::server_threads_max << '\n';
        return 2;
    }
    if (!loopback_only(listen)) {
        std::cerr << "slotmatchd: --listen " << listen
                  << ": without CurveZMQ keys the server binds only to loopback "
                     "(tcp://127.0.0.1:PORT, ipc://PATH)\n";
        return 2;
    }
    const std::string durability = vm["durability"].as<std::string>();
    if (durability != "persisted" && durability != "applied") {
        std::cerr << "slotmatchd: --durability must be persisted or applied\n";
        return 2;
    }
    std::string store_path;
    if (vm.count("store")) {
        store_path = vm["store"].as<std::string>();
        if (!(store_path.rfind("sqlite:", 0) == 0 && store_path.size() > 7) &&
            store_path.rfind("postgresql://", 0) != 0) {
            std::cerr
                << "slotmatchd: --store takes sqlite:PATH or postgresql://USER@HOST:PORT/DB\n";
            return 2;
        }
    }
    if (vm.count("store") && vm.count("journal")) {
        std::cerr << "slotmatchd: give --store or --journal, not both\n";
        return 2;
    }
    const std::string journal_endpoint = vm.count("journal") ? vm["journal"].as<std::string>() : "";
    const std::size_t buffer_events = vm["journal-buffer-events"].as<std::size_t>();
    if (buffer_events < journal::pending_events_min) {
        std::cerr << "slotmatchd: --journal-buffer-events must be at least "
                  << journal::pending_events_min << '\n';
        return 2;
    }
    const std::string path = vm["config"].as<std::string>();
    LoadResult loaded = load_region_file(path);
    if (vm.count("check") || !loaded.diagnostics.empty()) {
        std::cout << "Checking " << path << '\n';
        tools::print_diagnostics(std::cout, loaded);
        if (!loaded.ok()) return 1;
    }
    RealClock real;
    FixedClock fixed{Instant{0}};
    const Clock* clock = &real;
    if (vm.count("clock")) {
        std::string why;
        auto t = tools::parse_fixed_clock(Calendar(loaded.catalog->timezone),
                                          vm["clock"].as<std::string>(), why);
        if (!t) {
            std::cerr << "slotmatchd: " << why << '\n';
            return 2;
        }
        fixed.set(*t);
        clock = &fixed;
    }
    EngineLimits limits;
    limits.events_max = tools::event_lane_events(threads);
    Engine engine(std::move(*loaded.catalog), *clock, limits);
    if (vm.count("check")) {
        std::cout << '\n';
        tools::print_region_summary(std::cout, engine);
        return 0;
    }

    std::unique_ptr<journal::EventStore> store;
    if (!store_path.empty()) {
        std::string why;
        store = journal::open_store(store_path, why);
        if (store && !store->claim_writer(why)) store.reset();
        if (!store) {
            std::cerr << "slotmatchd: cannot use the store: " << why << '\n';
            return 1;
        }
    }
    // Recovery: the engine continues from every event the store (or the journal's) holds.
    zmq::context_t recovery_ctx(1);
    EventScan scan;
    std::string source;
    if (store) {
        scan = [&store](const std::function<bool(const Event&)>& visit, std::string& why) {
            return store->scan(1, visit, why);
        };
        source = store_path;
    } else if (!journal_endpoint.empty()) {
        scan = [&](const std::function<bool(const Event&)>& visit, std::string& why) {
            return journal::scan_remote(recovery_ctx, journal_endpoint, visit, why);
        };
        source = "the journal at " + journal_endpoint;
    }
    if (scan) {
        const auto began = std::chrono::steady_clock::now();
        std::string why;
        const auto restored = engine.restore(scan, why);
        if (!restored) {
            std::cerr << "slotmatchd: cannot start from " << source << ": " << why << '\n';
            return 1;
        }
        if (restored->events > 0) {
            const std::chrono::duration<double> took = std::chrono::steady_clock::now() - began;
            std::cout << "slotmatchd: recovered " << restored->events << " events from " << source
                      << " in " << std::fixed << std::setprecision(2) << took.count()
                      << " s: " << restored->bookings << " bookings, " << restored->holds
                      << " holds, " << restored->blocks << " blocks, " << restored->waitlist
                      << " waiting, " << restored->published_slots << " published slots, "
                      << restored->type_changes << " type changes, " << restored->type_removals
                      << " type removals; state hash " << tools::hex(engine.state_hash())
                      << std::endl;
        }
    }
    // The web booking log is read through a connection of its own, never the journal's.
    std::unique_ptr<journal::StoreQueries> queries;
    if (store) {
        std::string why;
        auto reader = journal::open_reader(store_path, why);
        if (!reader) {
            std::cerr << "slotmatchd: cannot open a reader on the store: " << why << '\n';
            return 1;
        }
        queries = std::make_unique<journal::StoreQueries>(engine.catalog(), engine.calendar(),
                                                          std::move(reader),
                                                          [&engine] { return engine.now(); });
    }
    tools::install_stop_handlers();
    tools::ServerCounters counters;
    tools::Service service(engine, clock == &fixed ? &fixed : nullptr, counters);
    if (queries) {
        service.set_store_queries(queries.get(), {});
    } else if (!journal_endpoint.empty()) {
        service.set_store_queries(nullptr, "this slotmatchd sends its events to the journal at " +
                                               journal_endpoint +
                                               ", which keeps the web booking log: ask it there "
                                               "(slotmatch --server " +
                                               journal_endpoint + " log ...)");
    }
    tools::ServerOptions server;
    server.listen = listen;
    server.threads = threads;
    server.persisted = durability == "persisted";
    const bool journalled = store || !journal_endpoint.empty();
    counters.durability = journalled ? durability : "memory";
    std::cout << "slotmatchd: region " << path << ": " << engine.catalog().units.size()
              << " units, " << engine.slot_count() << " slots; clock "
              << (clock == &fixed ? "fixed at " + engine.calendar().format(engine.now())
                                  : std::string("real"))
              << "; " << threads << " thread(s); "
              << (store ? "events journalled to " + store_path + " (" + durability + ")"
                  : !journal_endpoint.empty() ? "events sent to the journal at " +
                                                    journal_endpoint + " (" + durability + ")"
                                              : std::string("events kept in memory only"))
              << std::endl;
    tools::JournalConfig journal{std::move(store), journal_endpoint, buffer_events};
    const int rc = tools::serve(service, counters, server, std::move(journal),
                                tools::stop_requested, [](const std::string& endpoint) {
                                    std::cout << "slotmatchd: listening on " << endpoint
                                              << std::endl;
                                });
    if (rc != 0) return rc;
    if (journalled)
        std::cout << "slotmatchd: state hash " << tools::hex(engine.state_hash()) << '\n';
    std::cout << "slotmatchd: stopped after " << counters.messages.load() << " messages ("
              << counters.operations.load() << " operations, " << counters.events_published.load()
              << " events"
              << (!journalled
                      ? std::string()
                      : ", " + std::to_string(counters.events_committed.load()) + " committed")
              << ")" << std::endl;
    return 0;
}
