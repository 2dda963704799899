// slotmatch-journal: the persistence sidecar. A ROUTER on --listen takes event batches from
// slotmatchd (DEALER; FlatBuffers EventBatch), commits every batch that has arrived in one
// transaction (group commit), and answers each with the highest committed sequence number
// (JournalAck). Events it
// already has are skipped (a resend after a lost acknowledgement or a restart); a batch that
// would leave a gap is refused whole and reported loudly, and the sender resends from the
// number the journal expected. A restarting slotmatchd reads the stored events back through the
// same socket (replay requests) to rebuild its state. SIGINT/SIGTERM stop it after the batch in
// hand.
//
// With --config (the region slotmatchd serves) it also answers staff's web booking log and
// access audit queries on the same ROUTER: a frame that verifies as a RequestMessage (which has the
// required actor and ops fields an EventBatch never has) is a query, anything else an event batch.
// It purges the log (R20) by the later of its wall clock and the newest committed event's time: it
// has no engine clock, and a slotmatchd on a fixed clock moves the events' times.
#include <algorithm>
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

// Recovery: the stored events from `from` on, at most codec::replay_batch_events of them, as one
// EventBatch (empty past the end); a store that cannot be read answers with an ack naming why.
zmq::message_t replay(const journal::EventStore& store, std::uint64_t from) {
    flatbuffers::FlatBufferBuilder b(std::size_t{1} << 20);
    std::vector<flatbuffers::Offset<wire::Event>> offsets;
    std::string why;
    const bool read = store.scan(
        from,
        [&](const Event& e) {
            offsets.push_back(codec::encode_event(b, e));
            return offsets.size() < codec::replay_batch_events;
        },
        why);
    if (!read) {
        std::cerr << "slotmatch-journal: cannot replay events from " << from << ": " << why << '\n';
        journal::AppendResult r;
        r.error = "cannot read the store: " + why;
        return ack(r, store.last_seq());
    }
    b.Finish(wire::CreateEventBatch(b, b.CreateVector(offsets)), wire::RequestMessageIdentifier());
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

// An event batch waiting for the group's commit, and whom to acknowledge.
struct Pending {
    zmq::message_t identity;
    std::uint64_t first = 0;  // 0: a hello (no events)
    std::uint64_t last = 0;
    std::string refusal;  // set: refused before the commit (malformed)
    bool fenced = false;  // refused: another producer has the journal
};

// Group commit: every message that has arrived is taken (replay requests are answered at once),
// the events of all batches that continue the log go into one transaction, and then each batch
// is acknowledged with the committed number, so one fsync serves every batch that arrived
// while the previous one ran. Returns the batches served (0: nothing was waiting).
std::size_t serve_available(zmq::socket_t& router, journal::EventStore& store,
                            journal::StoreQueries* queries, std::uint64_t& producer,
                            std::uint64_t& commits) {
    std::vector<Pending> pending;
    std::vector<Event> events;
    std::vector<std::pair<zmq::message_t, std::uint64_t>> replays;  // answered after the commit
    while (events.size() < journal::commit_events_max) {
        zmq::message_t identity, body;
        if (!router.recv(identity, zmq::recv_flags::dontwait)) break;
        if (!identity.more() || !router.recv(body, zmq::recv_flags::none)) continue;
        while (body.more()) (void)router.recv(body, zmq::recv_flags::none);  // not our framing
        const std::span<const std::uint8_t> bytes{static_cast<const std::uint8_t*>(body.data()),
                                                  body.size()};
        if (const wire::RequestMessage* request = codec::verify_request(bytes)) {
            answer_query(router, identity, *request, queries);
            continue;
        }
        const wire::EventBatch* batch = codec::verify_event_batch(bytes);
        if (batch != nullptr && batch->replay_from() > 0) {
            // After this group's commit, so a replay sees every batch that arrived before it.
            replays.emplace_back(std::move(identity), batch->replay_from());
            continue;
        }
        Pending p{std::move(identity), 0, 0, {}};
        const bool hello = batch != nullptr && (!batch->events() || batch->events()->size() == 0);
        if (hello && batch->producer() != producer && batch->expect() != store.last_seq()) {
            // A server that has not seen every stored event (another one wrote after its
            // recovery or check) does not take the journal over.
            p.refusal = "another slotmatchd is writing to this journal: it holds " +
                        std::to_string(store.last_seq()) + " events, this server knows of " +
                        std::to_string(batch->expect());
            std::cerr << "slotmatch-journal: refused a hello: " << p.refusal << '\n';
        } else if (hello && batch->producer() != producer) {
            // The latest hello takes the journal over: a restarted slotmatchd has recovered
            // from this store, and the run before it, if still alive, is fenced off.
            if (producer != 0) {
                std::cerr << "slotmatch-journal: producer " << std::hex << batch->producer()
                          << " takes over from " << producer << std::dec
                          << "; events of the earlier one are refused from now on\n";
            }
            producer = batch->producer();
        }
        if (batch == nullptr) {
            p.refusal = "not an event batch (it fails FlatBuffers verification)";
            std::cerr << "slotmatch-journal: refused a message: " << p.refusal << '\n';
        } else if (!hello && batch->producer() != producer) {
            // Only a hello makes a producer: a journal just started takes nobody's events until
            // one says hello (and checks, first, that what is stored after its acknowledged
            // number is its own).
            p.refusal = producer == 0
                            ? std::string(codec::link_hello_first) +
                                  ": this journal has restarted; say hello again"
                            : std::string(codec::link_fenced) +
                                  ": another slotmatchd has taken this journal over (its hello "
                                  "came later); this server's events are refused";
            p.first = batch->events()->Get(0)->seq();
            p.last = batch->events()->Get(batch->events()->size() - 1)->seq();
            p.fenced = true;
            std::cerr << "slotmatch-journal: refused events " << p.first << ".." << p.last << ": "
                      << p.refusal << '\n';
        } else if (!hello) {
            for (const wire::Event* e : *batch->events()) events.push_back(codec::decode_event(*e));
            p.first = batch->events()->Get(0)->seq();
            p.last = events.back().seq;
        }
        pending.push_back(std::move(p));
    }
    if (pending.empty() && replays.empty()) return 0;
    // What continues the log, in order: resent duplicates are dropped, and events beyond a gap
    // wait (their batch is refused below and sent again).
    std::stable_sort(events.begin(), events.end(),
                     [](const Event& a, const Event& b) { return a.seq < b.seq; });
    std::vector<Event> next;
    next.reserve(events.size());
    std::uint64_t expected = store.last_seq() + 1;
    for (const Event& e : events) {
        if (e.seq == expected) {
            next.push_back(e);
            ++expected;
        }
    }
    journal::AppendResult committed;
    committed.ok = true;
    if (!next.empty()) {
        committed = store.append(next);
        ++commits;
        if (!committed.ok) {
            std::cerr << "slotmatch-journal: commit of " << next.size() << " events ("
                      << next.front().seq << ".." << next.back().seq
                      << ") failed: " << committed.error << '\n';
        }
    }
    const std::uint64_t through = store.last_seq();
    for (Pending& p : pending) {
        journal::AppendResult r;
        if (!p.refusal.empty()) {
            r.error = p.refusal;
        } else if (p.last > through && !committed.ok) {
            r.error = committed.error;
        } else if (p.last > through) {
            r.gap_expected = through + 1;
            r.error = "a gap: the store holds events up to " + std::to_string(through) +
                      " and this batch starts at " + std::to_string(p.first);
            std::cerr << "slotmatch-journal: GAP: batch " << p.first << ".." << p.last
                      << " refused: " << r.error << '\n';
        }
        // A fenced producer is told nothing is committed for it: the store's number counts
        // another producer's events, which must not acknowledge this one's.
        send_to(router, p.identity, ack(r, p.fenced ? 0 : through));
    }
    for (auto& [identity, from] : replays) send_to(router, identity, replay(store, from));
    return pending.size() + replays.size();
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
    if (store && !store->claim_writer(why)) store.reset();
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
    std::uint64_t commits = 0;
    std::uint64_t producer = 0;  // the slotmatchd run whose events are taken
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
        while (!tools::stop_requested.load(std::memory_order_relaxed)) {
            const std::size_t served =
                serve_available(router, *store, queries.get(), producer, commits);
            if (served == 0) break;
            batches += served;
        }
    }
    std::cout << "slotmatch-journal: stopped after " << batches << " batches in " << commits
              << " commits; the store holds " << store->last_seq() << " events" << std::endl;
    return 0;
}
