// slotmatchd's side of the link to a slotmatch-journal process (the sidecar, sidecar.hpp):
// DEALER to its ROUTER, never PUB, since PUB drops at the high-water mark. Events go out in
// batches; the journal acknowledges the highest committed sequence number; events stay in a
// bounded buffer until acknowledged, and everything unacknowledged is sent again when no
// acknowledgement has come for resend_after_ms (the journal restarted, the link dropped) or the
// journal reports a gap. The journal skips what it already has. Recovery reads the stored
// events back over the same kind of link (scan_remote).
#pragma once

#include "gate.hpp"
#include "journal.hpp"
#include "snapshot.hpp"

namespace slotmatch::journal {

// The link's CurveZMQ (slotmatchd --key DIR/NAME --journal-server-key FILE): this server's key
// pair, which the journal's clients.yaml lists as an engine key, and the journal's public key.
// Empty: no CurveZMQ (a journal on this machine without --keys).
struct LinkKeys {
    keys::KeyPair mine;
    std::string journal_public;
    bool on() const { return !journal_public.empty(); }
};

inline constexpr std::size_t link_batch_events_max = 4096;  // one EventBatch on the link
inline constexpr int resend_after_ms = 1000;
inline constexpr int link_batches_in_flight_max = 16;  // DEALER send high-water mark
inline constexpr int hello_timeout_ms = 5000;

// Recovery through a slotmatch-journal: every stored event from 1 on, in order, asked for in
// batches of codec::replay_batch_events over a DEALER of its own. False, with the reason in `why`,
// when the journal does not answer within hello_timeout_ms or cannot read its store.
bool scan_remote(zmq::context_t& ctx, const std::string& endpoint, const LinkKeys& link,
                 const std::function<bool(const Event&)>& visit, std::string& why,
                 std::uint64_t from = 1);
// Recovery from the journal's newest snapshot: its bytes over the link, decoded, and checked
// against the journal's event of its number. Nothing when the journal has none; nothing,
// saying why in `why`, when it cannot be had or does not check (recovery replays every
// event then).
std::optional<Snapshot> fetch_remote_snapshot(zmq::context_t& ctx, const std::string& endpoint,
                                              const LinkKeys& link, std::string& why);

class RemoteJournal final : public Journal {
  public:
    // Connects and asks the journal for its committed sequence number; nothing, with the
    // reason in `why`, when it does not answer within hello_timeout_ms.
    // `recovered`: the events the engine recovered from this journal; the journal takes this
    // server as its producer only if that is what it holds (else another server wrote since).
    static std::unique_ptr<RemoteJournal> connect(zmq::context_t& ctx, const std::string& endpoint,
                                                  const LinkKeys& link,
                                                  const std::string& wake_endpoint,
                                                  std::size_t capacity, std::uint64_t recovered,
                                                  std::string& why);
    ~RemoteJournal() override { stop(); }
    void stop() override;

  private:
    RemoteJournal(zmq::context_t& ctx, std::uint64_t committed, const std::string& wake_endpoint,
                  std::size_t capacity);
    void submitted() override;
    void run(zmq::socket_t socket, zmq::socket_t poked);
    static constexpr int poll_ms = 50;     // resend and stop checks between pokes and acks
    bool on_ack(const zmq::message_t& m);  // true on progress
    bool send_new(zmq::socket_t& socket, flatbuffers::FlatBufferBuilder& b);
    // After the journal restarted (it asks for a hello first): checks that every event it
    // committed beyond our acknowledged number is ours, then says hello again. A journal that
    // holds another producer's events there means this server was fenced: it stops for good.
    void hello_again();

    zmq::context_t& ctx_;
    std::string endpoint_;
    LinkKeys link_;
    std::uint64_t producer_ = 0;      // this run's id on the link (EventBatch.producer)
    bool hello_wanted_ = false;       // the journal thread's: the journal asked for a hello
    bool fenced_ = false;             // the journal thread's: another producer has the journal
    std::uint64_t sent_through_ = 0;  // the journal thread's: the last event sent
    std::chrono::steady_clock::time_point resume_at_{};  // the journal thread's
    zmq::socket_t poke_;  // used by the front thread only (submitted)
    std::atomic<bool> stopping_{false};
};

}  // namespace slotmatch::journal
