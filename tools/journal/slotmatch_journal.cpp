// slotmatch-journal: the persistence sidecar (sidecar.hpp has how it serves). Opens the store
// and claims it as its one writer, with --config answers the web booking log and the access
// audit too, and serves its ROUTER on --listen until SIGINT or SIGTERM (after the batch in hand).
#include <boost/program_options.hpp>
#include <iostream>
#include <optional>
#include <slotmatch/codec.hpp>
#include <slotmatch/config.hpp>
#include <zmq.hpp>

#include "event_store.hpp"
#include "gate.hpp"
#include "program.hpp"
#include "sidecar.hpp"
#include "store_queries.hpp"

namespace po = boost::program_options;
using namespace slotmatch;

namespace {

std::optional<po::variables_map> command_line(int argc, char** argv, int& exit_code) {
    po::options_description options(
        "slotmatch-journal --listen tcp://127.0.0.1:5556 --store sqlite:PATH");
    options.add_options()("help,h", "print this help and exit")(
        "listen", po::value<std::string>()->default_value("tcp://127.0.0.1:5556"),
        "ZeroMQ endpoint slotmatchd connects to (port * picks a free one); without --keys "
        "loopback only, with --keys any interface")(
        "keys", po::value<std::string>(),
        "DIR: serve with CurveZMQ. DIR/server.key and DIR/server.pub are the journal's pair; "
        "DIR/clients.yaml lists the slotmatchd keys it takes events from (channel engine) and "
        "the staff keys that may read the web booking log and the audit. Any other key gets no "
        "reply; SIGHUP reloads clients.yaml")(
        "store", po::value<std::string>(),
        "sqlite:PATH or postgresql://USER@HOST:PORT/DB — the event store (created or migrated)")(
        "config", po::value<std::string>(),
        "the region slotmatchd serves (the same file): with it the journal answers staff's web "
        "booking log and access audit queries (slotmatch --server THIS_ENDPOINT log|audit ...)")(
        "snapshot-every", po::value<std::uint64_t>()->default_value(2'000'000),
        "make a snapshot of the store's history whenever this many events were committed past "
        "the last one, and at a clean stop; a slotmatchd recovering through this journal reads "
        "the newest snapshot and only the events after it (docs/operations.md). 0: at a clean "
        "stop only");
    return tools::parse_command_line(argc, argv, options, "slotmatch-journal",
                                     "the persistence sidecar: commits slotmatchd's events to "
                                     "SQLite or PostgreSQL and acknowledges them",
                                     exit_code);
}

// The queries' part: the region's names and a reader connection of their own. Nothing after
// saying why (exit 1).
struct Queries {
    std::optional<Catalog> catalog;
    std::optional<Calendar> calendar;
    std::unique_ptr<journal::StoreQueries> queries;
};
bool open_queries(const std::string& config, const std::string& store_address,
                  const journal::EventStore& store, Queries& out) {
    LoadResult loaded = load_region_file(config);
    if (!loaded.ok()) {
        std::cerr << "slotmatch-journal: the region " << config
                  << " does not load (slotmatchd --config F --check says why)\n";
        return false;
    }
    out.catalog.emplace(std::move(*loaded.catalog));
    out.calendar.emplace(out.catalog->timezone);
    std::string why;
    auto reader = journal::open_reader(store_address, why);
    if (!reader) {
        std::cerr << "slotmatch-journal: cannot open a reader on the store: " << why << '\n';
        return false;
    }
    out.queries =
        std::make_unique<journal::StoreQueries>(*out.catalog, *out.calendar, std::move(reader),
                                                [s = &store] { return journal::Sidecar::now(*s); });
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    int exit_code = 0;
    const auto vm = command_line(argc, argv, exit_code);
    if (!vm) return exit_code;
    if (!vm->count("store")) {
        std::cerr << "slotmatch-journal: --store sqlite:PATH or postgresql://... is required\n";
        return 2;
    }
    const std::string address = (*vm)["store"].as<std::string>();
    const std::string listen = (*vm)["listen"].as<std::string>();
    const std::string keys_dir = vm->count("keys") ? (*vm)["keys"].as<std::string>() : "";
    if (vm->count("keys") && keys_dir.empty()) {
        std::cerr << "slotmatch-journal: --keys takes the folder of server.key and clients.yaml\n";
        return 2;
    }
    if (keys_dir.empty() && !tools::loopback_only(listen)) {
        std::cerr << "slotmatch-journal: --listen " << listen
                  << ": without CurveZMQ keys the journal binds only to loopback "
                     "(tcp://127.0.0.1:PORT, ipc://PATH)\n";
        return 2;
    }
    std::string why;
    auto store = journal::open_store(address, why);
    if (store && !store->claim_writer(why)) store.reset();
    if (!store) {
        std::cerr << "slotmatch-journal: cannot use the store: " << why << '\n';
        return 1;
    }
    Queries queries;
    if (vm->count("config") &&
        !open_queries((*vm)["config"].as<std::string>(), address, *store, queries)) {
        return 1;
    }
    keys::KeyPair pair;
    std::unique_ptr<keys::KeyRing> ring;
    if (!keys_dir.empty()) {
        auto read = keys::read_key_pair(keys_dir + "/server", why);
        if (read) {
            pair = *read;
            const Catalog* catalog = queries.catalog ? &*queries.catalog : nullptr;
            keys::UnitLookup units;
            if (catalog) {
                units = [catalog](std::string_view u) {
                    return catalog->find_unit(std::string(u));
                };
            }
            ring = keys::KeyRing::open(keys_dir + "/clients.yaml", units, why);
        }
        if (!ring) {
            std::cerr << "slotmatch-journal: --keys " << keys_dir << ": " << why << '\n';
            return 1;
        }
        tools::install_reload_handler();
    }
    tools::install_stop_handlers();

    zmq::context_t ctx(1);
    zmq::socket_t router(ctx, zmq::socket_type::router);
    keys::GateCounters gate_counters;
    std::unique_ptr<keys::Gate> gate;
    if (ring) {
        try {
            gate = std::make_unique<keys::Gate>(
                ctx, router, pair, *ring,
                std::vector{keys::KeyChannel::engine, keys::KeyChannel::staff}, "slotmatch-journal",
                gate_counters);
        } catch (const zmq::error_t& e) {
            std::cerr << "slotmatch-journal: cannot serve with CurveZMQ keys: " << e.what() << '\n';
            return 1;
        }
    }
    router.set(zmq::sockopt::router_mandatory, 1);
    router.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(codec::event_batch_bytes_max));
    router.set(zmq::sockopt::linger, 1000);
    try {
        router.bind(listen);
    } catch (const zmq::error_t& e) {
        std::cerr << "slotmatch-journal: cannot listen on " << listen << ": " << e.what() << '\n';
        return 2;
    }
    std::cout << "slotmatch-journal: store " << address << " holds " << store->last_seq()
              << " events" << std::endl;
    std::cout << "slotmatch-journal: listening on " << router.get(zmq::sockopt::last_endpoint)
              << std::endl;
    if (ring) {
        std::cout << "slotmatch-journal: CurveZMQ with the keys in " << keys_dir << ": server key "
                  << pair.public_text << "; " << ring->current().holders().size()
                  << " client keys; SIGHUP reloads clients.yaml" << std::endl;
    }
    if (ring) tools::accept_reload_signal();  // the gate's thread is up, born without it
    const auto shelf = journal::SnapshotShelf::of_store(address, why);
    if (!shelf) std::cerr << "slotmatch-journal: no snapshots: " << why << '\n';
    journal::Snapshotter snapshots(address, (*vm)["snapshot-every"].as<std::uint64_t>(), {},
                                   [](const std::string& text) {
                                       std::cout << ("slotmatch-journal: " + text + "\n")
                                                 << std::flush;
                                   });
    journal::Sidecar sidecar(*store, queries.queries.get(), ring.get(), shelf.get());
    sidecar.run(router, tools::stop_requested, [&] {
        if (!ring || !tools::reload_requested.exchange(false)) return;
        std::string reload_why;
        if (ring->reload(reload_why)) {
            std::cout << "slotmatch-journal: reloaded " << ring->path() << ": "
                      << ring->current().holders().size() << " keys" << std::endl;
        } else {
            std::cerr << "slotmatch-journal: " << ring->path()
                      << " was not reloaded; the keys in force stay:\n"
                      << reload_why << std::endl;
        }
    });
    snapshots.finish();  // every event taken is committed
    std::cout << "slotmatch-journal: stopped after " << sidecar.batches() << " batches in "
              << sidecar.commits() << " commits; the store holds " << store->last_seq() << " events"
              << std::endl;
    return 0;
}
