#include "event_store.hpp"

#include <slotmatch/assert.hpp>
#include <slotmatch/codec.hpp>

#include "access_audit.hpp"

namespace slotmatch::journal {

// Each version in both backends' SQL, side by side.
const Migration migrations[schema_version] = {
    // 1: the event log, appended in sequence order, with the columns the web booking log and
    // the access audit select on. Their indexes came with those features: a secondary index on
    // random keys costs more than the rest of an insert (perf, slotmatch_store_bench, batches
    // of 4,096: 193 k events/s with the two, 718 k without).
    {"CREATE TABLE events ("
     "  seq INTEGER PRIMARY KEY,"
     "  time INTEGER NOT NULL,"
     "  kind INTEGER NOT NULL,"
     "  channel INTEGER NOT NULL,"
     "  unit INTEGER NOT NULL,"
     "  patient INTEGER NOT NULL,"
     "  booking INTEGER NOT NULL,"
     "  body BLOB NOT NULL);",
     "CREATE TABLE events ("
     "  seq BIGINT PRIMARY KEY,"
     "  time BIGINT NOT NULL,"
     "  kind SMALLINT NOT NULL,"
     "  channel SMALLINT NOT NULL,"
     "  unit INTEGER NOT NULL,"
     "  patient BIGINT NOT NULL,"
     "  booking BIGINT NOT NULL,"
     "  body BYTEA NOT NULL);"},
    // 2: the web booking log (R19-R23): one entry per web booking, rebooking and cancellation,
    // written with its event and purged after 31 days (R20). An entry is the key alone: the
    // row's values are read from the event it names (web_log_row), which is never deleted.
    // Events stored before this schema get their entries too (the columns say which).
    // SQLite: one B-tree, in log_buckets time-ordered runs by unit (bucket = unit mod 64): a
    // batch's entries land at the ends of at most 64 runs, where a tree by unit took them into
    // one place per unit (1,200 in the bench) and a full-column table with indexes cost more
    // still (bench/README.md); a unit's log reads its run's rows of the window. PostgreSQL: by
    // unit, and by time for the purge. Other events pay nothing.
    {"CREATE TABLE web_log ("
     "  bucket INTEGER NOT NULL,"
     "  changed_at INTEGER NOT NULL,"
     "  seq INTEGER NOT NULL,"
     "  unit INTEGER NOT NULL,"
     "  PRIMARY KEY (bucket, changed_at, seq)) WITHOUT ROWID;"
     "INSERT INTO web_log SELECT unit % 64, time, seq, unit FROM events"
     "  WHERE channel = 0 AND kind IN (7, 8, 9);",
     "CREATE TABLE web_log ("
     "  unit INTEGER NOT NULL,"
     "  changed_at BIGINT NOT NULL,"
     "  seq BIGINT NOT NULL,"
     "  PRIMARY KEY (unit, changed_at, seq));"
     "CREATE INDEX web_log_by_time ON web_log (changed_at);"
     "INSERT INTO web_log SELECT unit, time, seq FROM events"
     "  WHERE channel = 0 AND kind IN (7, 8, 9);"},
    // 3: the access audit (Patientdatalagen): each event that touched a patient, filed under
    // the patient's bucket in sequence order (see audit_buckets); the values are the event's.
    // PostgreSQL: an access across units carries no_unit (2^32 - 1), beyond INTEGER, so the
    // events' unit column widens (a rewrite, once).
    {"CREATE TABLE audit ("
     "  bucket INTEGER NOT NULL,"
     "  seq INTEGER NOT NULL,"
     "  patient INTEGER NOT NULL,"
     "  PRIMARY KEY (bucket, seq)) WITHOUT ROWID;"
     "INSERT INTO audit SELECT patient % 64, seq, patient FROM events"
     "  WHERE patient != 0 AND kind IN (5, 7, 8, 9, 10, 11, 12);",
     "ALTER TABLE events ALTER COLUMN unit TYPE BIGINT;"
     "CREATE TABLE audit ("
     "  bucket INTEGER NOT NULL,"
     "  seq BIGINT NOT NULL,"
     "  patient BIGINT NOT NULL,"
     "  PRIMARY KEY (bucket, seq));"
     "INSERT INTO audit SELECT patient % 64, seq, patient FROM events"
     "  WHERE patient != 0 AND kind IN (5, 7, 8, 9, 10, 11, 12);"},
    // 4: the catalog entities the store records (entity_recorded), found without a scan: the
    // journal numbers its region file's appointment types by them (types added live are in no
    // file). A partial index: only those events' inserts pay for it.
    {"CREATE INDEX events_entities ON events (seq) WHERE kind = 16;",
     "CREATE INDEX events_entities ON events (seq) WHERE kind = 16;"},
    // 5: SQLite keeps the log's and the audit's entries in a file of their own, filled from the
    // committed events off the commit path (sqlite_store.cpp, Follower), which makes them anew
    // for a store migrated here; the store gets an identity the entries file names, so that
    // entries are never taken for another store's. PostgreSQL writes them with their events,
    // as before.
    {"CREATE TABLE store_identity (id BLOB NOT NULL);"
     "INSERT INTO store_identity VALUES (randomblob(16));"
     "DROP TABLE web_log;"
     "DROP TABLE audit;",
     "SELECT 1;"},
    // 6: snapshots of the history (snapshot.hpp). PostgreSQL keeps them here: a row per
    // snapshot, written last in its transaction, and its bytes in parts (a bytea holds at most
    // 1 GB). SQLite keeps them as files beside the store (a write of many megabytes here would
    // hold the store's one write lock).
    {"SELECT 1;",
     "CREATE TABLE snapshot_parts ("
     "  seq BIGINT NOT NULL,"
     "  part INTEGER NOT NULL,"
     "  body BYTEA NOT NULL,"
     "  PRIMARY KEY (seq, part));"
     "CREATE TABLE snapshots ("
     "  seq BIGINT PRIMARY KEY,"
     "  parts INTEGER NOT NULL,"
     "  bytes BIGINT NOT NULL);"},
};
// The numbers the backfills above write: the web channel; the kinds that make log rows
// (makes_log_row); the audited kinds (audit_patient); the buckets.
static_assert(static_cast<int>(Channel::web) == 0 && static_cast<int>(EventKind::held) == 5 &&
              static_cast<int>(EventKind::booked) == 7 &&
              static_cast<int>(EventKind::rebooked) == 8 &&
              static_cast<int>(EventKind::cancelled) == 9 &&
              static_cast<int>(EventKind::returned_to_waitlist) == 10 &&
              static_cast<int>(EventKind::waitlist_added) == 11 &&
              static_cast<int>(EventKind::accessed) == 12 &&
              static_cast<int>(EventKind::entity_recorded) == 16 && audit_buckets == 64 &&
              log_buckets == 64);

bool migrate(const SchemaDialect& d, std::string& why) {
    if (!d.exec(d.migrations_table, "creating schema_migrations", why)) return false;
    const int at = d.version();
    if (at > schema_version) {
        why = "the store has schema version " + std::to_string(at) + ", newer than this " +
              "slotmatch (" + std::to_string(schema_version) + ")";
        return false;
    }
    for (int v = at; v < schema_version; ++v) {
        const Migration& m = migrations[v];
        const std::string sql = std::string(d.begin) + ";" +
                                (d.postgresql ? m.postgresql : m.sqlite) +
                                "INSERT INTO schema_migrations (version, applied_at) VALUES (" +
                                std::to_string(v + 1) + ", CURRENT_TIMESTAMP);COMMIT;";
        if (!d.exec(sql, "migrating to schema " + std::to_string(v + 1), why)) {
            std::string ignored;
            d.exec("ROLLBACK", "", ignored);
            return false;
        }
    }
    // Read back, not assumed: a connection lost on the last COMMIT says so here.
    if (const int now = d.version(); now != schema_version) {
        why = "after migrating, the store reads as schema version " + std::to_string(now) +
              ", not " + std::to_string(schema_version);
        return false;
    }
    return true;
}

bool EventStore::scan(std::uint64_t from, const std::function<bool(const Event&)>& visit,
                      std::string& why) const {
    Query q;
    q.from_seq = from;
    return select(q, visit, why);
}

bool EventStore::web_log(UnitIdx unit, Instant since, std::size_t limit, std::vector<LogRow>& out,
                         std::string& why) const {
    Query q{Query::Kind::web_log, 0, unit, {}, since, limit};
    std::string problem;
    const bool read = select(
        q, [&](const Event& e) { return add_log_row(e, out, problem); }, why);
    if (!problem.empty()) why = problem;
    return read && problem.empty();
}

bool EventStore::recorded_types(std::vector<RecordedType>& out, std::string& why) const {
    Query q;
    q.kind = Query::Kind::entities;
    return select(
        q,
        [&](const Event& e) {
            if (e.entity == EntityKind::type) out.push_back(recorded_type(e));
            return true;
        },
        why);
}

bool EventStore::audit(PatientKey patient, Instant since, std::size_t limit,
                       std::vector<Event>& out, std::string& why) const {
    Query q{Query::Kind::audit, 0, {}, patient, since, limit};
    return select(
        q,
        [&](const Event& e) {
            out.push_back(e);
            return true;
        },
        why);
}

bool schema_is_current(int version, std::string& why) {
    if (version == schema_version) return true;
    why = "the store has schema version " + std::to_string(version) + ", not " +
          std::to_string(schema_version);
    return false;
}

std::optional<std::span<const Event>> new_events(std::span<const Event> events,
                                                 std::uint64_t last_seq, AppendResult& r) {
    r.committed_through = last_seq;
    std::size_t skip = 0;
    while (skip < events.size() && events[skip].seq <= last_seq) ++skip;
    r.duplicates = skip;
    std::uint64_t next = last_seq + 1;
    for (std::size_t i = skip; i < events.size(); ++i, ++next) {
        if (events[i].seq != next) {
            r.gap_expected = next;
            r.error = "gap in the event sequence: expected " + std::to_string(next) + ", got " +
                      std::to_string(events[i].seq) + "; nothing of this batch was stored";
            return std::nullopt;
        }
    }
    return events.subspan(skip);
}

void committed(std::span<const Event> fresh, std::uint64_t& last_seq, Instant& last_time,
               AppendResult& r) {
    if (!fresh.empty()) {
        // new_events let through exactly the numbers after last_seq, in order.
        SM_ASSERT(fresh.front().seq == last_seq + 1);
        SM_ASSERT(fresh.back().seq == last_seq + fresh.size());
        last_seq = fresh.back().seq;
        last_time = fresh.back().time;
    }
    r.ok = true;
    r.appended = fresh.size();
    r.committed_through = last_seq;
}

void encode_stored(flatbuffers::FlatBufferBuilder& b, const Event& e) {
    b.Clear();
    b.Finish(codec::encode_event(b, e));
}

bool decode_stored(std::uint64_t seq, const std::uint8_t* data, std::size_t size, Event& out,
                   std::string& why, ConfigArena* configs) {
    flatbuffers::Verifier verifier(data, size, codec::reply_verify_depth_max);
    if (data == nullptr || !verifier.VerifyBuffer<wire::Event>(nullptr)) {
        why = "event " + std::to_string(seq) + " is damaged (it does not verify)";
        return false;
    }
    const wire::Event& stored = *flatbuffers::GetRoot<wire::Event>(data);
    // Values no slotmatch writes: a flipped bit in an enum (numbers cannot be told this way).
    const auto state_ok = [](const wire::SlotSnapshot* s) {
        return s == nullptr || s->state() <= wire::SlotState::MAX;
    };
    if (stored.kind() > wire::EventKind::MAX || stored.channel() > wire::Channel::MAX ||
        !state_ok(stored.before()) || !state_ok(stored.after()) || !state_ok(stored.released())) {
        why = "event " + std::to_string(seq) + " is damaged (a kind, channel or slot state no " +
              "slotmatch writes)";
        return false;
    }
    out = codec::decode_event(stored, configs);
    if (out.seq != seq) {
        why = "event " + std::to_string(seq) + " is damaged (it says it is event " +
              std::to_string(out.seq) + ")";
        return false;
    }
    return true;
}

namespace {

std::unique_ptr<EventStore> open(const std::string& address, std::string& why, bool reader,
                                 WholeCheck check = WholeCheck::at_open) {
    if (address.rfind("sqlite:", 0) == 0 && address.size() > 7) {
        return open_sqlite_store(address.substr(7), why, reader, check);
    }
    if (address.rfind("postgresql://", 0) == 0 || address.rfind("postgres://", 0) == 0) {
        return open_pg_store(address, why, reader);
    }
    why = "a store is sqlite:PATH or postgresql://USER@HOST:PORT/DB, not " + address;
    return nullptr;
}

}  // namespace

std::unique_ptr<EventStore> open_store(const std::string& address, std::string& why,
                                       WholeCheck check) {
    return open(address, why, false, check);
}

std::unique_ptr<EventStore> open_reader(const std::string& address, std::string& why) {
    return open(address, why, true);
}

}  // namespace slotmatch::journal
