// Snapshots of a store's history (docs/operations.md, "Snapshots"): the fold of its events up
// to a sequence number (engine/include/slotmatch/event_fold.hpp) in one checksummed file, so
// that recovery reads the snapshot and only the events after it. The events stay the legal
// record; a snapshot is made from committed events only, never from the live engine, so it is
// a consistent cut by construction and making one never stops service.
//
// Where they go (a shelf), the newest two kept (a damaged newest one falls back to the one
// before): `sqlite:PATH` keeps them as files in PATH-snapshots/, each written to a temporary
// file, synced, and renamed into place, so a crash leaves the old ones whole (in the store
// itself a write of many megabytes would hold its one write lock, and the journal's commits
// with it); PostgreSQL keeps them in the database (snapshots, snapshot_parts: schema 6), each
// written in one transaction.
//
// The file (native byte order: a snapshot is read on the machine, or the kind of machine, that
// wrote it): "SLOTMATCH-SNAPSHOT\n", format version, the last event folded in and a fingerprint
// of that event as the store holds it (a snapshot of another store's history is refused), the
// fold's slot snapshots and booking and hold generations, the kept events as stored
// (FlatBuffers wire::Event), the image of the region file the server ran with (region_image.hpp,
// format 2 on), and a CRC-32 of everything before it (Boost.CRC).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <slotmatch/event_fold.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "event_store.hpp"

namespace slotmatch::journal {

// A snapshot read back and checked: its fold, and its kept events as stored.
struct Snapshot {
    FoldState fold;
    std::uint64_t fingerprint = 0;  // of event fold.seq, as encode_stored writes it
    // The kept events' bodies, one after another, each with its sequence number.
    std::vector<std::uint64_t> kept_seqs;
    std::vector<std::uint32_t> kept_sizes;
    std::string kept_bodies;
    // The region file the server ran with, when it gave one (region_image.hpp); empty if not.
    std::string region;
    std::size_t file_bytes = 0;  // 0: folded in memory (fold_forward), never read from a shelf

    // Each kept event, decoded (settings changes into `configs`), in order, until `visit`
    // returns false; false with `why` when one does not decode.
    bool each_kept(const std::function<bool(const Event&)>& visit, std::string& why,
                   ConfigArena* configs) const;
};

// Where a store's snapshots are kept.
class SnapshotShelf {
  public:
    virtual ~SnapshotShelf() = default;
    // The shelf of the store at `address` (sqlite:PATH or postgresql://...); nothing, saying
    // why, when it cannot be reached.
    static std::unique_ptr<SnapshotShelf> of_store(const std::string& address, std::string& why);
    // The snapshots there, newest (highest sequence number) first (none when unreadable).
    virtual std::vector<std::uint64_t> seqs() const = 0;
    // The bytes of the snapshot at `seq`; false with `why`.
    virtual bool get(std::uint64_t seq, std::string& bytes, std::string& why) const = 0;
    // Stores `bytes` as the snapshot at `seq` durably, then removes all but the newest `keep`.
    // False with `why` (a full disk), the older ones left as they were.
    virtual bool put(std::uint64_t seq, const std::string& bytes, std::size_t keep,
                     std::string& why) const = 0;
    // Where the snapshot at `seq` is, for messages.
    virtual std::string where(std::uint64_t seq) const = 0;
};

// Files in a folder (sqlite: stores).
class FileShelf final : public SnapshotShelf {
  public:
    explicit FileShelf(std::filesystem::path dir) : dir_(std::move(dir)) {}
    const std::filesystem::path& dir() const { return dir_; }
    std::filesystem::path file(std::uint64_t seq) const;
    std::vector<std::uint64_t> seqs() const override;
    bool get(std::uint64_t seq, std::string& bytes, std::string& why) const override;
    // Temporary file, fsync, rename, fsync of the folder.
    bool put(std::uint64_t seq, const std::string& bytes, std::size_t keep,
             std::string& why) const override;
    std::string where(std::uint64_t seq) const override { return file(seq).string(); }

  private:
    std::filesystem::path dir_;
};

// Rows of a PostgreSQL store (pg_store.cpp): a connection of its own.
std::unique_ptr<SnapshotShelf> open_pg_shelf(const std::string& uri, std::string& why);

inline constexpr std::size_t snapshots_kept = 2;

// The fingerprint of a stored event (FNV-1a over encode_stored's bytes).
std::uint64_t event_fingerprint(const Event& e);

// A snapshot's bytes (the file's format), and back: nothing, saying why, when they are damaged
// (checksum, layout) or not a snapshot. The journal sends them over the link this way.
std::string encode_snapshot(const Snapshot& s);
std::optional<Snapshot> decode_snapshot(std::string_view bytes, std::string& why);

// Reads and checks the snapshot at `seq`: its checksum, its layout, and that `store` holds its
// last event with the same fingerprint. Nothing, saying why, when it is damaged or not this
// store's.
std::optional<Snapshot> read_snapshot(const SnapshotShelf& shelf, std::uint64_t seq,
                                      const EventStore& store, std::string& why);
// Whether `store` holds the event `s` was folded up to, as it was folded (its fingerprint): a
// snapshot of another store's history, or ahead of it, is not; false with `why`.
bool matches_store(const Snapshot& s, const EventStore& store, std::string& why);
// The newest snapshot that reads and checks, for recovery; each one passed over is told to
// `say` with the reason. Nothing when there is none (recovery replays every event).
std::optional<Snapshot> newest_snapshot(const SnapshotShelf& shelf, const EventStore& store,
                                        const std::function<void(const std::string&)>& say);

// Folds the committed events after `snapshot` (nothing: the whole history) into it, in memory,
// up to the last event `store` holds (a reader's view): its fold moves on, and its kept events
// are the ones recovery past that event still needs (its region image stays). How many events
// were read in `events_read` (0: nothing new, `snapshot` left as it was). False, saying why, when
// the store cannot be read, or no longer holds the snapshot's last event as it was folded (it
// was rolled back or replaced); `snapshot` is then as it was. A standby follows its primary's store
// this way (slotmatchd --standby), and make_snapshot() folds the newest snapshot on the shelf.
bool fold_forward(const EventStore& store, std::optional<Snapshot>& snapshot,
                  std::size_t& events_read, std::string& why);

struct SnapshotMade {
    std::uint64_t seq = 0;   // the last event folded in
    std::uint64_t from = 0;  // the snapshot it was folded from (0: the whole history)
    std::size_t events_read = 0;
    std::size_t kept = 0;
    std::size_t bytes = 0;
};
// Folds the newest snapshot and the committed events after it into a new one, up to the last
// event `store` holds (a reader's view: one consistent read). Nothing new (the newest already
// covers every event): a SnapshotMade for it. Nothing, saying why, when the store cannot be
// read or the shelf written. `region`: the image of the region file to keep in it.
// `region_new`: the newest does not keep that image: made again even with nothing new.
std::optional<SnapshotMade> make_snapshot(const EventStore& store, const SnapshotShelf& shelf,
                                          std::string& why, std::string_view region = {},
                                          bool region_new = false);

// Makes the snapshots of a running server's store, on a thread of its own (at a lower
// priority than serving) with a reader connection of its own: whenever `every` events have
// been committed past the newest snapshot (looked at every `poll_ms`), and once more at
// finish(), after the journal has committed its last event. Each snapshot made, and each that
// fails (a full disk: the events stay, recovery replays more), is told to `say`.
// `checks`: what it checks, on a thread of its own beside the snapshots (a national store's whole
// check takes a minute or more), which the writer's open left for later
// (WholeCheck::later): the whole store (EventStore::check_whole; a damaged store is told to
// `say` and gets no more snapshots), and the web booking log's and audit's entries
// (EventStore::check_entries; damaged ones are told to `say`, and made again at the next
// start). A stop cuts a running check short (a national store's took minutes), and says so. A
// whole check that gives way to a growing WAL (under load) or cannot run is said and tried again
// 60 s later, then at twice the wait each time, up to 16 minutes.
// `region_new`: the newest snapshot does not keep `region` (the region file changed since, or
// another build of slotmatchd made it): the thread first makes it again with it, so that the
// next start reads the catalog from it (region_image.hpp) without waiting for `every` events.
struct StoreChecks {
    bool whole = false;
    bool entries = false;
};
class Snapshotter {
  public:
    // `region`: the image of the region file the server runs with, kept in each snapshot.
    Snapshotter(std::string address, std::uint64_t every, StoreChecks checks,
                std::function<void(const std::string&)> say, std::string region = {},
                bool region_new = false, int poll_ms = 2000);
    ~Snapshotter();
    Snapshotter(const Snapshotter&) = delete;
    Snapshotter& operator=(const Snapshotter&) = delete;
    // Ends the thread and makes the last snapshot (the caller's journal has stopped).
    void finish();
    // Makes a snapshot now if events were committed past the newest one (or `region_new`);
    // false after telling `say` why one could not be made.
    bool snapshot_now(bool region_new = false);

  private:
    void run();
    void check_pages();     // checks_, on a thread of its own beside the snapshots
    void make_snapshots();  // every `every` events, until stopped

    std::string address_;
    std::string region_;
    std::uint64_t every_;
    StoreChecks checks_;
    bool region_new_;
    std::atomic<bool> damaged_{false};
    std::function<void(const std::string&)> say_;
    int poll_ms_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;  // under mutex_
    // Under mutex_: the reader whose check runs now, which a stop interrupts.
    const EventStore* checking_ = nullptr;
    void stop();  // sets stopping_, cuts a running check short
    bool stopped();
    std::thread thread_;
};

}  // namespace slotmatch::journal
