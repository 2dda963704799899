// slotmatch-journal: the persistence sidecar. A ROUTER on --listen takes event batches from
// slotmatchd (DEALER; FlatBuffers EventBatch), commits each batch to the store in one
// transaction, and answers with the highest committed sequence number (JournalAck). Events it
// already has are skipped (a resend after a lost acknowledgement or a restart); a batch that
// would leave a gap is refused whole and reported loudly, and the sender resends from the
// number the journal expected. SIGINT/SIGTERM stop it after the batch in hand.
//
// With --config (the region slotmatchd serves) it also answers staff's web booking log and
// access audit queries on the same ROUTER: a frame that verifies as a RequestMessage (which has the
// required actor and ops fields an EventBatch never has) is a query, anything else an event batch.
// It purges the log (R20) by the later of its wall clock and the newest committed event's time: it
// has no engine clock, and a slotmatchd on a fixed clock moves the events' times.
#include <atomic>
#include <boost/program_options.hpp>
#include <csignal>
#include <iostream>
#include <slotmatch/codec.hpp>
#include <slotmatch/config.hpp>
#include <vector>
#include <zmq.hpp>

#include "cli.hpp"
#include "event_store.hpp"
#include "store_queries.hpp"

namespace po = boost::program_options;
using namespace slotmatch;

namespace {

zmq::message_t ack(const journal::AppendResult& r, std::uint64_t committed) {
    flatbuffers::FlatBufferBuilder b(256);
    const auto error =
        r.error.empty() ? flatbuffers::Offset<flatbuffers::String>() : b.CreateString(r.error);
    b.Finish(wire::CreateJournalAck(b, committed, r.gap_expected, error),
             wire::RequestMessageIdentifier());
    return zmq::message_t(b.GetBufferPointer(), b.GetSize());
}

void send_to(zmq::socket_t& router, zmq::message_t& identity, zmq::message_t&& body) {
    try {
        router.send(identity, zmq::send_flags::sndmore | zmq::send_flags::dontwait);
        router.send(body, zmq::send_flags::dontwait);
    } catch (const zmq::error_t&) {  // the sender has gone; it resends when it returns
    }
}

// A query (a RequestMessage) -> [identity][ReplyMessage]; refused whole without --config.
void answer_query(zmq::socket_t& router, zmq::message_t& identity,
                  const wire::RequestMessage& request, journal::StoreQueries* queries) {
    flatbuffers::FlatBufferBuilder b(4096);
    if (queries != nullptr) {
        queries->answer(request, b);
    } else {
        const auto error = codec::encode_error(
            b, ErrorCode::invalid_request, "config",
            "this slotmatch-journal was started without --config, so it answers no queries");
        b.Finish(wire::CreateReplyMessage(b, codec::protocol_version, request.request_id(), error),
                 wire::RequestMessageIdentifier());
    }
    send_to(router, identity, zmq::message_t(b.GetBufferPointer(), b.GetSize()));
}

// One request: [identity][EventBatch] -> [identity][JournalAck], or a query (above).
// False when no message was waiting.
bool serve_one(zmq::socket_t& router, journal::EventStore& store, journal::StoreQueries* queries,
               std::uint64_t& batches) {
    zmq::message_t identity, body;
    if (!router.recv(identity, zmq::recv_flags::dontwait)) return false;
    if (!identity.more() || !router.recv(body, zmq::recv_flags::none)) return true;
    while (body.more()) (void)router.recv(body, zmq::recv_flags::none);  // not our framing
    const std::span<const std::uint8_t> bytes{static_cast<const std::uint8_t*>(body.data()),
                                              body.size()};
    if (const wire::RequestMessage* request = codec::verify_request(bytes)) {
        answer_query(router, identity, *request, queries);
        return true;
    }
    journal::AppendResult r;
    const wire::EventBatch* batch = codec::verify_event_batch(bytes);
    if (batch == nullptr) {
        r.error = "not an event batch (it fails FlatBuffers verification)";
        std::cerr << "slotmatch-journal: refused a message: " << r.error << '\n';
    } else if (batch->events() && batch->events()->size() > 0) {
        std::vector<Event> events;
        events.reserve(batch->events()->size());
        for (const wire::Event* e : *batch->events()) events.push_back(codec::decode_event(*e));
        r = store.append(events);
        ++batches;
        if (!r.ok) {
            std::cerr << "slotmatch-journal: " << (r.gap_expected ? "GAP: " : "") << "batch of "
                      << events.size() << " events (" << events.front().seq << ".."
                      << events.back().seq << ") refused: " << r.error << '\n';
        }
    }
    send_to(router, identity, ack(r, store.last_seq()));
    return true;
}

// The sidecar's "now" for the log's 31 days (R20): the later of its wall clock and the newest
// committed event's time.
Instant journal_now(const journal::EventStore& store) {
    const Instant wall = RealClock().now();
    return std::max(wall, store.last_time());
}

}  // namespace

int main(int argc, char** argv) {
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
    int exit_code = 0;
    const auto parsed =
        tools::parse_command_line(argc, argv, options, "slotmatch-journal",
                                  "the persistence sidecar: commits slotmatchd's events to SQLite "
                                  "or PostgreSQL and acknowledges them",
                                  exit_code);
    if (!parsed) return exit_code;
    const auto& vm = *parsed;
    if (!vm.count("store")) {
        std::cerr << "slotmatch-journal: --store sqlite:PATH or postgresql://... is required\n";
        return 2;
    }
    const std::string path = vm["store"].as<std::string>();
    std::string why;
    auto store = journal::open_store(path, why);
    if (!store) {
        std::cerr << "slotmatch-journal: cannot use the store: " << why << '\n';
        return 1;
    }
    // Queries: the region's names and a reader connection of their own.
    std::optional<Catalog> catalog;
    std::optional<Calendar> calendar;
    std::unique_ptr<journal::StoreQueries> queries;
    if (vm.count("config")) {
        LoadResult loaded = load_region_file(vm["config"].as<std::string>());
        if (!loaded.ok()) {
            std::cerr << "slotmatch-journal: the region " << vm["config"].as<std::string>()
                      << " does not load (slotmatchd --config F --check says why)\n";
            return 1;
        }
        catalog.emplace(std::move(*loaded.catalog));
        calendar.emplace(catalog->timezone);
        auto reader = journal::open_reader(path, why);
        if (!reader) {
            std::cerr << "slotmatch-journal: cannot open a reader on the store: " << why << '\n';
            return 1;
        }
        queries = std::make_unique<journal::StoreQueries>(
            *catalog, *calendar, std::move(reader), [s = store.get()] { return journal_now(*s); });
    }
    tools::install_stop_handlers();

    zmq::context_t ctx(1);
    zmq::socket_t router(ctx, zmq::socket_type::router);
    router.set(zmq::sockopt::router_mandatory, 1);
    router.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(codec::event_batch_bytes_max));
    router.set(zmq::sockopt::linger, 1000);
    const std::string listen = vm["listen"].as<std::string>();
    try {
        router.bind(listen);
    } catch (const zmq::error_t& e) {
        std::cerr << "slotmatch-journal: cannot listen on " << listen << ": " << e.what() << '\n';
        return 2;
    }
    std::cout << "slotmatch-journal: store " << path << " holds " << store->last_seq() << " events"
              << std::endl;
    std::cout << "slotmatch-journal: listening on " << router.get(zmq::sockopt::last_endpoint)
              << std::endl;
    std::uint64_t batches = 0;
    journal::LogPurgeSchedule purge;
    while (!tools::stop_requested.load(std::memory_order_relaxed)) {
        journal::purge_if_due(*store, purge, journal_now(*store), "slotmatch-journal");
        zmq::pollitem_t item{router.handle(), 0, ZMQ_POLLIN, 0};
        try {
            zmq::poll(&item, 1, std::chrono::milliseconds(100));
        } catch (const zmq::error_t& e) {
            if (e.num() != EINTR) throw;
            continue;
        }
        while (!tools::stop_requested.load(std::memory_order_relaxed) &&
               serve_one(router, *store, queries.get(), batches)) {
        }
    }
    std::cout << "slotmatch-journal: stopped after " << batches << " batches; the store holds "
              << store->last_seq() << " events" << std::endl;
    return 0;
}
