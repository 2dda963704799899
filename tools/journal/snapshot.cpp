// Snapshots of a store's history (snapshot.hpp).
#include "snapshot.hpp"

#include "binary_io.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/crc.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iomanip>
#include <sstream>
#include <slotmatch/assert.hpp>
#include <string_view>
#include <system_error>

namespace slotmatch::journal {
namespace {

constexpr std::string_view magic = "SLOTMATCH-SNAPSHOT\n";
// 2 added the region image (region_image.hpp); a format-1 snapshot reads as one without it.
constexpr std::uint32_t format_version = 2;
constexpr const char* suffix = ".snapshot";

std::uint32_t crc32_of(const char* data, std::size_t size) {
    boost::crc_32_type crc;
    crc.process_bytes(data, size);
    return crc.checksum();
}

void put_slot(Writer& w, const SlotSnapshot& s) {
    w.put(s.slot.value);
    w.put(static_cast<std::uint8_t>(s.state));
    w.put(s.version);
    w.put(s.type.value);
    w.put(s.start.value);
    w.put(s.booking.value);
    w.put(s.hold.value);
    w.put(s.patient.value);
}
constexpr std::size_t slot_bytes = 4 + 1 + 4 + 4 + 8 + 8 + 8 + 8;

bool get_slot(Reader& r, SlotSnapshot& s) {
    std::uint8_t state = 0;
    if (!r.get(s.slot.value) || !r.get(state) || !r.get(s.version) || !r.get(s.type.value) ||
        !r.get(s.start.value) || !r.get(s.booking.value) || !r.get(s.hold.value) ||
        !r.get(s.patient.value) || state > static_cast<std::uint8_t>(SlotState::blocked)) {
        return false;
    }
    s.state = static_cast<SlotState>(state);
    return true;
}

bool read_file(const std::filesystem::path& path, std::string& out, std::string& why) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) {
        why = "cannot open " + path.string();
        return false;
    }
    out.resize(static_cast<std::size_t>(in.tellg()));
    in.seekg(0);
    if (!in.read(out.data(), static_cast<std::streamsize>(out.size()))) {
        why = "cannot read " + path.string();
        return false;
    }
    return true;
}

bool write_all(int fd, const std::string& bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

// The snapshot's bytes: the fold, the fingerprint of its last event, the kept events.
std::string encode(const FoldState& fold, std::uint64_t fingerprint,
                   const std::vector<std::uint64_t>& kept_seqs,
                   const std::vector<std::uint32_t>& kept_sizes, const std::string& kept_bodies,
                   std::string_view region) {
    Writer w;
    w.bytes().append(magic);
    w.put(format_version);
    w.put(fold.seq);
    w.put(fingerprint);
    w.put(static_cast<std::uint64_t>(fold.slots.size()));
    for (const SlotSnapshot& s : fold.slots) put_slot(w, s);
    w.put(static_cast<std::uint64_t>(fold.bookings.size()));
    for (const FoldState::BookingSeen& b : fold.bookings) {
        w.put(b.index);
        w.put(b.generation);
        w.put(b.slot.value);
        w.put(b.patient.value);
    }
    w.put(static_cast<std::uint64_t>(fold.holds.size()));
    for (const FoldState::HoldSeen& h : fold.holds) {
        w.put(h.index);
        w.put(h.generation);
    }
    w.put(static_cast<std::uint64_t>(kept_seqs.size()));
    for (std::size_t i = 0; i < kept_seqs.size(); ++i) {
        w.put(kept_seqs[i]);
        w.put(kept_sizes[i]);
    }
    w.bytes().append(kept_bodies);
    w.put_text(region);
    w.put(crc32_of(w.bytes().data(), w.bytes().size()));
    return std::move(w.bytes());
}

bool decode(std::string_view bytes, Snapshot& s, std::string& why) {
    if (bytes.size() < magic.size() + 4 || bytes.substr(0, magic.size()) != magic) {
        why = "not a slotmatch snapshot";
        return false;
    }
    std::uint32_t stored_crc = 0;
    std::memcpy(&stored_crc, bytes.data() + bytes.size() - 4, 4);
    const std::string_view body = bytes.substr(0, bytes.size() - 4);
    if (crc32_of(body.data(), body.size()) != stored_crc) {
        why = "its checksum does not match (the file is damaged)";
        return false;
    }
    Reader r(body.substr(magic.size()));
    std::uint32_t version = 0;
    if (!r.get(version) || version == 0 || version > format_version) {
        why = "format " + std::to_string(version) + ", this slotmatch reads formats 1 to " +
              std::to_string(format_version);
        return false;
    }
    std::uint64_t n = 0;
    bool ok = r.get(s.fold.seq) && r.get(s.fingerprint) && r.count(n, slot_bytes);
    for (std::uint64_t i = 0; ok && i < n; ++i) ok = get_slot(r, s.fold.slots.emplace_back());
    ok = ok && r.count(n, 24);
    for (std::uint64_t i = 0; ok && i < n; ++i) {
        FoldState::BookingSeen& b = s.fold.bookings.emplace_back();
        ok = r.get(b.index) && r.get(b.generation) && r.get(b.slot.value) && r.get(b.patient.value);
    }
    ok = ok && r.count(n, 12);
    for (std::uint64_t i = 0; ok && i < n; ++i) {
        FoldState::HoldSeen& h = s.fold.holds.emplace_back();
        ok = r.get(h.index) && r.get(h.generation);
    }
    ok = ok && r.count(n, 12);
    std::uint64_t total = 0;
    for (std::uint64_t i = 0; ok && i < n; ++i) {
        ok = r.get(s.kept_seqs.emplace_back()) && r.get(s.kept_sizes.emplace_back());
        total += ok ? s.kept_sizes.back() : 0;
    }
    std::string_view bodies;
    ok = ok && r.skip(total, bodies) && (version < 2 || r.get_text(s.region));
    if (!ok || !r.done()) {
        why = "its layout is damaged";
        return false;
    }
    s.kept_bodies.assign(bodies);
    s.file_bytes = bytes.size();
    return true;
}

}  // namespace

std::string encode_snapshot(const Snapshot& s) {
    return encode(s.fold, s.fingerprint, s.kept_seqs, s.kept_sizes, s.kept_bodies, s.region);
}

std::optional<Snapshot> decode_snapshot(std::string_view bytes, std::string& why) {
    Snapshot s;
    if (!decode(bytes, s, why)) return std::nullopt;
    ConfigArena configs;
    if (!s.each_kept([](const Event&) { return true; }, why, &configs)) return std::nullopt;
    return s;
}

bool Snapshot::each_kept(const std::function<bool(const Event&)>& visit, std::string& why,
                         ConfigArena* configs) const {
    std::size_t at = 0;
    Event ev;
    for (std::size_t i = 0; i < kept_seqs.size(); ++i) {
        const auto* data = reinterpret_cast<const std::uint8_t*>(kept_bodies.data() + at);
        if (!decode_stored(kept_seqs[i], data, kept_sizes[i], ev, why, configs)) {
            why = "a snapshot's kept " + why;
            return false;
        }
        at += kept_sizes[i];
        if (!visit(ev)) return true;
    }
    return true;
}

std::unique_ptr<SnapshotShelf> SnapshotShelf::of_store(const std::string& address,
                                                       std::string& why) {
    if (address.rfind("sqlite:", 0) == 0 && address.size() > 7) {
        return std::make_unique<FileShelf>(address.substr(7) + "-snapshots");
    }
    if (address.rfind("postgresql://", 0) == 0 || address.rfind("postgres://", 0) == 0) {
        return open_pg_shelf(address, why);
    }
    why = "a store is sqlite:PATH or postgresql://USER@HOST:PORT/DB, not " + address;
    return nullptr;
}

bool FileShelf::get(std::uint64_t seq, std::string& bytes, std::string& why) const {
    return read_file(file(seq), bytes, why);
}

std::filesystem::path FileShelf::file(std::uint64_t seq) const {
    char name[40];
    std::snprintf(name, sizeof name, "%020llu%s", static_cast<unsigned long long>(seq), suffix);
    return dir_ / name;
}

std::vector<std::uint64_t> FileShelf::seqs() const {
    std::vector<std::uint64_t> out;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
        const std::string name = entry.path().filename().string();
        if (name.size() != 20 + std::strlen(suffix) || !name.ends_with(suffix)) continue;
        if (name.find_first_not_of("0123456789") != 20) continue;
        out.push_back(std::stoull(name.substr(0, 20)));
    }
    std::sort(out.rbegin(), out.rend());
    return out;
}

bool FileShelf::put(std::uint64_t seq, const std::string& bytes, std::size_t keep,
                    std::string& why) const {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) {
        why = "cannot make " + dir_.string() + ": " + ec.message();
        return false;
    }
    const std::filesystem::path target = file(seq);
    const std::filesystem::path temp = target.string() + ".partial";
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        why = "cannot write " + temp.string() + ": " + std::strerror(errno);
        return false;
    }
    const bool written = write_all(fd, bytes) && ::fdatasync(fd) == 0;
    const int error = errno;
    ::close(fd);
    if (!written) {
        std::filesystem::remove(temp, ec);
        why = "cannot write " + temp.string() + ": " + std::strerror(error);
        return false;
    }
    std::filesystem::rename(temp, target, ec);
    if (ec) {
        why = "cannot rename " + temp.string() + ": " + ec.message();
        return false;
    }
    if (const int dir = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir >= 0) {
        ::fsync(dir);
        ::close(dir);
    }
    const std::vector<std::uint64_t> all = seqs();
    for (std::size_t i = keep; i < all.size(); ++i) std::filesystem::remove(file(all[i]), ec);
    return true;
}

std::uint64_t event_fingerprint(const Event& e) {
    flatbuffers::FlatBufferBuilder b;
    encode_stored(b, e);
    std::uint64_t h = 14695981039346656037ULL;
    for (std::size_t i = 0; i < b.GetSize(); ++i) {
        h ^= b.GetBufferPointer()[i];
        h *= 1099511628211ULL;
    }
    return h;
}

std::optional<Snapshot> read_snapshot(const SnapshotShelf& shelf, std::uint64_t seq,
                                      const EventStore& store, std::string& why) {
    std::string bytes;
    if (!shelf.get(seq, bytes, why)) return std::nullopt;
    std::optional<Snapshot> read = decode_snapshot(bytes, why);
    if (!read) return std::nullopt;
    if (read->fold.seq != seq) {
        why = "it says it is the snapshot at event " + std::to_string(read->fold.seq);
        return std::nullopt;
    }
    if (!matches_store(*read, store, why)) return std::nullopt;
    return read;
}

bool matches_store(const Snapshot& s, const EventStore& store, std::string& why) {
    const std::uint64_t seq = s.fold.seq;
    if (seq > store.last_seq()) {
        why = "it is ahead of the store, whose last event is " + std::to_string(store.last_seq()) +
              " (another store's snapshot?)";
        return false;
    }
    std::optional<std::uint64_t> stored;
    std::string problem;
    if (!store.scan(
            seq,
            [&](const Event& e) {
                if (e.seq == seq) stored = event_fingerprint(e);
                return false;
            },
            problem)) {
        why = "the store's event " + std::to_string(seq) + " cannot be read: " + problem;
        return false;
    }
    if (stored != s.fingerprint) {
        why = "the store's event " + std::to_string(seq) +
              " is not the one it was made from (another store's snapshot)";
        return false;
    }
    return true;
}

std::optional<Snapshot> newest_snapshot(const SnapshotShelf& shelf, const EventStore& store,
                                        const std::function<void(const std::string&)>& say) {
    for (const std::uint64_t seq : shelf.seqs()) {
        std::string why;
        if (auto s = read_snapshot(shelf, seq, store, why)) return s;
        say("the snapshot at event " + std::to_string(seq) + " (" + shelf.where(seq) +
            ") is not used: " + why);
    }
    return std::nullopt;
}

bool fold_forward(const EventStore& store, std::optional<Snapshot>& snapshot,
                  std::size_t& events_read, std::string& why) {
    const std::uint64_t from = snapshot ? snapshot->fold.seq : 0;
    events_read = 0;
    // The store still holds the event the snapshot was folded up to, as it was folded (a store
    // rolled back, or replaced, is not followed on), and whether anything came after it: the
    // fold's maps are built only then.
    bool more = false;
    if (from > 0) {
        std::optional<std::uint64_t> stored;
        if (!store.scan(
                from,
                [&](const Event& e) {
                    if (e.seq == from) {
                        stored = event_fingerprint(e);
                        return true;
                    }
                    more = true;
                    return false;
                },
                why)) {
            return false;
        }
        if (stored != snapshot->fingerprint) {
            why = "the store's event " + std::to_string(from) +
                  (stored ? " is not the one folded (the store was rolled back or replaced)"
                          : " is gone (the store was rolled back or replaced)");
            return false;
        }
        if (!more) return true;  // nothing new
    }
    EventFold fold = snapshot ? EventFold(snapshot->fold) : EventFold();
    // First pass: the fold, up to the last event the store holds now.
    // Without a gap: a number the store skips (a damaged page) is never folded over.
    std::uint64_t last = from;
    std::uint64_t missing = 0;
    if (!store.scan(
            from + 1,
            [&](const Event& e) {
                if (e.seq != last + 1) {
                    missing = last + 1;
                    return false;
                }
                fold.note(e);
                last = e.seq;
                ++events_read;
                return true;
            },
            why)) {
        return false;
    }
    if (missing != 0) {
        why = "event " + std::to_string(missing) + " is missing from the store";
        return false;
    }
    if (last == from) return true;  // nothing new
    // Second pass: the events recovery past `last` still needs, the snapshot's and the new
    // ones. The snapshot's are kept as they are stored; the new ones are encoded so.
    Snapshot next;
    const auto keep_bytes = [&](std::uint64_t seq, const char* data, std::size_t size) {
        next.kept_seqs.push_back(seq);
        next.kept_sizes.push_back(static_cast<std::uint32_t>(size));
        next.kept_bodies.append(data, size);
    };
    if (snapshot) {
        ConfigArena configs;
        std::size_t at = 0;
        Event ev;
        for (std::size_t i = 0; i < snapshot->kept_seqs.size(); ++i) {
            const char* data = snapshot->kept_bodies.data() + at;
            const std::uint32_t size = snapshot->kept_sizes[i];
            if (!decode_stored(snapshot->kept_seqs[i], reinterpret_cast<const std::uint8_t*>(data),
                               size, ev, why, &configs)) {
                why = "a snapshot's kept " + why;
                return false;
            }
            if (fold.keeps(ev)) keep_bytes(ev.seq, data, size);
            at += size;
        }
    }
    flatbuffers::FlatBufferBuilder b;
    std::uint64_t fingerprint = 0;
    if (!store.scan(
            from + 1,
            [&](const Event& e) {
                if (e.seq > last) return false;
                if (fold.keeps(e)) {
                    encode_stored(b, e);
                    keep_bytes(e.seq, reinterpret_cast<const char*>(b.GetBufferPointer()),
                               b.GetSize());
                }
                if (e.seq == last) fingerprint = event_fingerprint(e);
                return true;
            },
            why)) {
        return false;
    }
    next.fold = fold.state(last);
    next.fingerprint = fingerprint;
    if (snapshot) next.region = std::move(snapshot->region);
    snapshot = std::move(next);
    return true;
}

std::optional<SnapshotMade> make_snapshot(const EventStore& store, const SnapshotShelf& shelf,
                                          std::string& why, std::string_view region,
                                          bool region_new) {
    std::optional<Snapshot> snapshot = newest_snapshot(shelf, store, [](const std::string&) {});
    SnapshotMade made;
    made.from = snapshot ? snapshot->fold.seq : 0;
    if (!fold_forward(store, snapshot, made.events_read, why)) return std::nullopt;
    made.seq = snapshot ? snapshot->fold.seq : 0;
    made.kept = snapshot ? snapshot->kept_seqs.size() : 0;
    if (made.events_read == 0 && !(region_new && snapshot)) {  // nothing new
        made.bytes = snapshot ? snapshot->file_bytes : 0;
        return made;
    }
    snapshot->region = region;
    const std::string bytes = encode_snapshot(*snapshot);
    if (!shelf.put(made.seq, bytes, snapshots_kept, why)) return std::nullopt;
    made.bytes = bytes.size();
    return made;
}

Snapshotter::Snapshotter(std::string address, std::uint64_t every, StoreChecks checks,
                         std::function<void(const std::string&)> say, std::string region,
                         bool region_new, int poll_ms)
    : address_(std::move(address)),
      region_(std::move(region)),
      every_(every),
      checks_(checks),
      region_new_(region_new),
      say_(std::move(say)),
      poll_ms_(poll_ms) {
    if (every_ > 0 || checks_.whole || checks_.entries || region_new_) thread_ = std::thread([this] { run(); });
}

Snapshotter::~Snapshotter() {
    stop();
    if (thread_.joinable()) thread_.join();
}

void Snapshotter::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    // Until the running check has ended: an interrupt that comes before its statement runs is
    // lost (SQLite clears it when a statement starts on an idle connection).
    for (;;) {
        {
            std::lock_guard lock(mutex_);
            if (checking_ == nullptr) return;
            checking_->interrupt();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

void Snapshotter::finish() {
    stop();
    if (thread_.joinable()) thread_.join();
    snapshot_now();
}

bool Snapshotter::snapshot_now(bool region_new) {
    if (damaged_.load()) return false;
    std::string why;
    const auto shelf = SnapshotShelf::of_store(address_, why);
    auto store = shelf ? open_reader(address_, why) : nullptr;
    if (!store) {
        say_("no snapshot: " + why);
        return false;
    }
    const std::vector<std::uint64_t> have = shelf->seqs();
    if (store->last_seq() == 0 ||
        (!have.empty() && have.front() == store->last_seq() && !region_new)) {
        return true;
    }
    const auto began = std::chrono::steady_clock::now();
    const auto made = make_snapshot(*store, *shelf, why, region_, region_new);
    if (!made) {
        say_("no snapshot: " + why + " (recovery replays the events past the last one)");
        return false;
    }
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - began;
    std::ostringstream text;
    text << "snapshot at event " << made->seq << " in " << std::fixed << std::setprecision(2)
         << took.count() << " s: " << made->events_read << " events folded into "
         << (made->from == 0 ? std::string("nothing") : "the snapshot at " + std::to_string(made->from))
         << ", " << made->kept << " kept, " << std::setprecision(1)
         << static_cast<double>(made->bytes) / 1e6 << " MB (" << shelf->where(made->seq)
         << ")" << (region_new ? ", made again with the region file as it is now" : "");
    say_(text.str());
    return true;
}

void Snapshotter::run() {
    // Serving comes first: this thread takes what CPU the request path leaves.
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
    // First, as it is quick (the newest snapshot read and written again): the next start can
    // then skip the YAML even if this one is killed before `every` events.
    if (region_new_) snapshot_now(true);
    // The checks on a thread of their own: a national store's whole check takes a minute or
    // more, and the snapshots must not wait for it (the events after the newest one are what a
    // restart reads: 3.8 M of them after 20 s of load once took a restart to 11 s).
    std::thread checks;
    if (checks_.whole || checks_.entries) checks = std::thread([this] { check_pages(); });
    make_snapshots();
    if (checks.joinable()) checks.join();
}

void Snapshotter::check_pages() {
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
    std::string why;
    // One check on a reader of its own, said with its time when it passes (`why` holds the
    // damage when it found some, or why it was not done).
    using PageCheck = EventStore::PageCheck;
    const auto check = [&](const std::function<PageCheck(const EventStore&)>& run_check,
                           const std::string& what) {
        const auto began = std::chrono::steady_clock::now();
        auto store = open_reader(address_, why);
        PageCheck found = PageCheck::not_done;
        if (store) {
            {
                std::lock_guard lock(mutex_);
                if (stopping_) return PageCheck::not_done;
                checking_ = store.get();
            }
            found = run_check(*store);
            std::lock_guard lock(mutex_);
            checking_ = nullptr;
            if (found == PageCheck::not_done && stopping_) {
                say_(what + " not checked: the stop came first (the next start from a "
                            "snapshot checks it)");
                return found;
            }
        }
        if (found != PageCheck::sound) return found;
        const std::chrono::duration<double> took = std::chrono::steady_clock::now() - began;
        std::ostringstream text;
        text << what << " checked (PRAGMA quick_check) in " << std::fixed << std::setprecision(2)
             << took.count() << " s: no damage";
        say_(text.str());
        return found;
    };
    const std::string whole = "the whole store";
    const auto check_whole = [&] {
        return check([&](const EventStore& store) { return store.check_whole(why); }, whole);
    };
    const auto say_damaged = [&] {
        damaged_.store(true);
        say_("THE STORE IS DAMAGED: " + why +
             ". Serving goes on and new events are still committed, but no more snapshots "
             "are made; stop slotmatchd and restore the store from a copy "
             "(docs/operations.md, \"Snapshots\")");
    };
    // A whole check that gave way to the WAL (a peak of load) or could not run is tried again,
    // less often each time, until it runs to its end or slotmatchd stops.
    auto wait = std::chrono::seconds(60);
    const auto say_not_done = [&] {
        say_(whole + " not checked: " + why + "; trying again in " +
             std::to_string(wait.count()) + " s");
    };
    PageCheck found = checks_.whole ? check_whole() : PageCheck::sound;
    if (found == PageCheck::damaged) return say_damaged();
    if (found == PageCheck::not_done && !stopped()) say_not_done();
    if (checks_.entries) {
        const std::string what = "the web booking log's and audit's entries";
        const PageCheck entries = check(
            [&](const EventStore& store) { return store.check_entries(why); }, what);
        if (entries == PageCheck::not_done && !stopped()) say_(what + " not checked: " + why);
        if (entries == PageCheck::damaged) {
            say_("THE WEB BOOKING LOG'S AND AUDIT'S ENTRIES ARE DAMAGED: " + why +
                 ". The events are not: serving and snapshots go on, but `slotmatch log` and "
                 "`slotmatch audit` may miss entries until the next start, which makes them "
                 "again from the events (docs/operations.md, \"Snapshots\")");
        }
    }
    while (found == PageCheck::not_done) {
        {
            std::unique_lock lock(mutex_);
            if (wake_.wait_for(lock, wait, [&] { return stopping_; })) return;
        }
        wait = std::min(wait * 2, std::chrono::seconds(960));
        found = check_whole();
        if (found == PageCheck::damaged) return say_damaged();
        if (found == PageCheck::not_done && !stopped()) say_not_done();
    }
}

bool Snapshotter::stopped() {
    std::lock_guard lock(mutex_);
    return stopping_;
}

void Snapshotter::make_snapshots() {
    std::string why;
    const auto shelf = SnapshotShelf::of_store(address_, why);
    if (!shelf || every_ == 0) return;
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            wake_.wait_for(lock, std::chrono::milliseconds(poll_ms_), [this] { return stopping_; });
            if (stopping_) return;
        }
        auto store = open_reader(address_, why);
        if (!store) continue;
        const std::vector<std::uint64_t> have = shelf->seqs();
        const std::uint64_t newest = have.empty() ? 0 : have.front();
        if (store->last_seq() >= newest + every_) snapshot_now();
    }
}

}  // namespace slotmatch::journal
