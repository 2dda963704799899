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
        "ZeroMQ endpoint slotmatchd connects to (loopback; port * picks a free one)")(
        "store", po::value<std::string>(),
        "sqlite:PATH or postgresql://USER@HOST:PORT/DB — the event store (created or migrated)")(
        "config", po::value<std::string>(),
        "the region slotmatchd serves (the same file): with it the journal answers staff's web "
        "booking log and access audit queries (slotmatch --server THIS_ENDPOINT log|audit ...)");
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
    tools::install_stop_handlers();

    zmq::context_t ctx(1);
    zmq::socket_t router(ctx, zmq::socket_type::router);
    router.set(zmq::sockopt::router_mandatory, 1);
    router.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(codec::event_batch_bytes_max));
    router.set(zmq::sockopt::linger, 1000);
    const std::string listen = (*vm)["listen"].as<std::string>();
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
    journal::Sidecar sidecar(*store, queries.queries.get());
    sidecar.run(router, tools::stop_requested);
    std::cout << "slotmatch-journal: stopped after " << sidecar.batches() << " batches in "
              << sidecar.commits() << " commits; the store holds " << store->last_seq() << " events"
              << std::endl;
    return 0;
}
