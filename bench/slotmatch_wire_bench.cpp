// slotmatch_wire_bench: slotmatchd measured end to end over loopback ZeroMQ, from a client's
// side (the client library of tools/client/client.hpp, one DEALER socket, FlatBuffers messages).
//   slotmatch_wire_bench --config region.yaml [--threads T]   (starts slotmatchd itself)
//   slotmatch_wire_bench --server tcp://127.0.0.1:5555          (a server that is running)
// Four phases, each --duration-s long, repeated --repetitions times (the table shows the median
// of the repetitions, and their range):
//   1. round trip: one single-operation request in flight; latency percentiles
//   2. pipelined:  --window single-operation requests in flight; operations/s
//   3. batched:    messages of --batch operations, --batch-window messages in flight; ops/s
//   4. open loop:  single-operation requests sent on a fixed schedule (--rate); latency from
//                  each request's INTENDED send time, so a server that stalls is charged for
//                  every request that should have gone out meanwhile (no coordinated omission)
// The work is a book of a free slot followed by the cancel of that booking (each one
// operation), over many distinct slots and patients, so that the region never runs out of free
// slots and every operation succeeds; refusals are counted and printed, never benchmarked.
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <slotmatch/patient.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bench_patients.hpp"
#include "bench_report.hpp"
#include "child_process.hpp"
#include "client.hpp"
#include "program.hpp"

namespace po = boost::program_options;
namespace fb = flatbuffers;
using namespace slotmatch;
using namespace slotmatch::bench;
using nlohmann::json;

namespace {

using Steady = std::chrono::steady_clock;
using Nanos = std::chrono::nanoseconds;

// ---------------------------------------------------------------- options

struct Options {
    std::string server;
    std::string config;
    std::string slotmatchd;
    unsigned threads = 1;
    double duration_s = 3;
    double warmup_s = 1;
    unsigned repetitions = 3;
    std::size_t requests = 0;  // phase 1: 0 = as many as fit in duration_s
    std::size_t window = 256;
    std::vector<std::size_t> batches{64, 256};
    std::size_t batch_window = 4;
    double rate = 50'000;
    double send_tick_us = 100;    // phase 4: the client wakes at most this often to send
    std::string phases = "1234";  // which phases run
    std::string channel = "staff";
    std::string actor = "slotmatch-wire-bench";
    std::string actor_unit;
    std::size_t units = 64;
    std::size_t slots = 16'384;
    std::size_t patients = 8192;
    int timeout_ms = 5000;
    double start_timeout_s = 120;
    std::string json_path;
};

// ---------------------------------------------------------------- the machine

// The command line as a shell would take it back.
std::string quoted_command_line(int argc, char** argv) {
    std::string out;
    for (int i = 0; i < argc; ++i) {
        const std::string a = argv[i];
        if (i > 0) out += ' ';
        const bool plain = !a.empty() && a.find_first_not_of(
                                             "abcdefghijklmnopqrstuvwxyz"
                                             "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                             "0123456789-_./:=,+@%") == std::string::npos;
        if (plain) {
            out += a;
            continue;
        }
        out += '\'';
        for (char c : a) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
        out += '\'';
    }
    return out;
}

// CPU seconds used so far: by this process (all its threads, ZeroMQ's I/O thread included),
// and by another process (NaN when it is not known).
double own_cpu_s() {
    rusage r{};
    getrusage(RUSAGE_SELF, &r);
    const auto s = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return s(r.ru_utime) + s(r.ru_stime);
}

double process_cpu_s(pid_t pid) {
    if (pid <= 0) return std::nan("");
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto paren = text.rfind(')');  // the command name may hold spaces
    if (paren == std::string::npos) return std::nan("");
    std::istringstream fields(text.substr(paren + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {  // utime and stime are fields 14, 15
        if (i == 14) utime = std::strtod(field.c_str(), nullptr);
        if (i == 15) stime = std::strtod(field.c_str(), nullptr);
    }
    return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// The CPU that this client and the server used during a phase, in per cent of one core.
class CpuMeter {
  public:
    explicit CpuMeter(pid_t server) : server_(server) {}
    void start() {
        t0_ = Steady::now();
        client0_ = own_cpu_s();
        server0_ = process_cpu_s(server_);
    }
    std::pair<double, double> percent() const {
        const double wall = std::chrono::duration<double>(Steady::now() - t0_).count();
        return {100 * (own_cpu_s() - client0_) / wall,
                100 * (process_cpu_s(server_) - server0_) / wall};
    }

  private:
    pid_t server_;
    Steady::time_point t0_;
    double client0_ = 0, server0_ = 0;
};

// ---------------------------------------------------------------- patients

// Days since 1970-01-01 -> year, month, day (proleptic Gregorian; H. Hinnant's algorithm).
void civil_from_days(long z, int& y, unsigned& m, unsigned& d) {
    z += 719468;
    const long era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const long yy = static_cast<long>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y = static_cast<int>(yy + (m <= 2));
}

// The i-th patient: a personnummer YYYYMMDDNNNC, born 1940-01-01 + i / 900 days, serial
// 100 + i % 900, C the Luhn check digit over the last ten digits (engine/src/patient.cpp).
// The same i gives the same patient on every run, so runs reuse the server's patient records.
std::string personnummer(std::size_t i) {
    int y = 0;
    unsigned m = 0, d = 0;
    civil_from_days(-10957 + static_cast<long>(i / 900), y, m, d);  // 1940-01-01 is day -10957
    return bench::personnummer(y, m, d, static_cast<unsigned>(100 + i % 900));
}

// ---------------------------------------------------------------- statistics

double seconds(Steady::duration d) {
    return std::chrono::duration<double>(d).count();
}
double micros(Steady::duration d) {
    return std::chrono::duration<double, std::micro>(d).count();
}

// What one phase saw besides its figures.
struct Tally {
    std::uint64_t ok = 0;                          // operations answered OK
    std::map<std::string, std::uint64_t> refused;  // operations refused, by error code
    std::uint64_t timeouts = 0;                    // requests never answered in time
    std::uint64_t bad_replies = 0;                 // unknown request id or wrong result count
    std::uint64_t send_failures = 0;

    std::uint64_t refused_total() const {
        std::uint64_t n = 0;
        for (const auto& [code, count] : refused) n += count;
        return n;
    }
    void add(const Tally& o) {
        ok += o.ok;
        for (const auto& [code, count] : o.refused) refused[code] += count;
        timeouts += o.timeouts;
        bad_replies += o.bad_replies;
        send_failures += o.send_failures;
    }
};

// ---------------------------------------------------------------- the work

// Free slots per group (a group is the unit staff act from; one group for the web), free
// patients, and the identity each group's requests carry. A job takes its slots from one group
// and one patient per slot, books them, cancels the bookings, and gives everything back to the
// end of the queues, so consecutive jobs use different slots and patients.
struct Pools {
    std::vector<client::Identity> identity;        // per group
    std::vector<std::string> group_name;           // per group
    std::vector<std::deque<std::uint32_t>> slots;  // free slot ids per group
    std::vector<std::string> patient;              // personnummer text by patient index
    std::deque<std::uint32_t> patients_free;
    std::size_t next_group = 0;
    std::size_t slots_total = 0;
    std::size_t slots_retired = 0;     // taken out after a refusal (someone else holds them?)
    std::size_t patients_retired = 0;  // taken out after a refusal of their cancel

    std::size_t largest_group() const {
        std::size_t n = 0;
        for (const auto& g : slots) n = std::max(n, g.size());
        return n;
    }
};

struct Job {
    std::uint32_t group = 0;
    bool cancelling = false;
    std::vector<std::uint32_t> slot;
    std::vector<std::uint32_t> patient;
    std::vector<std::uint64_t> booking;  // 0: the book of slot[i] was refused
};

struct Flight {
    std::uint32_t job = 0;
    std::uint32_t ops = 0;
    Steady::time_point stamp;  // sent (closed loop) or intended (open loop)
};

// One DEALER connection and the jobs it has going. A message either books a new job's slots
// or cancels a job's bookings; replies are matched by request id (they may arrive out of
// order when the server runs workers).
class Runner {
  public:
    Runner(client::Connection& connection, Pools& pools, const Options& options)
        : c_(connection), pools_(pools), options_(options), builder_(std::size_t{64} * 1024) {
        client_name_ = "slotmatch_wire_bench-" + std::to_string(::getpid()) + "-" +
                       std::to_string(client::new_request_id() % 1'000'000);
        for (auto& id : pools_.identity) id.client = client_name_;
        next_id_ = client::new_request_id();
    }

    Tally& tally() { return tally_; }
    std::size_t in_flight() const { return flights_.size(); }
    std::size_t jobs_active() const { return jobs_active_; }

    // Sends the next message: a pending cancel first, else a new job of `batch` bookings.
    // False when nothing can be sent now (the pools are empty until replies come back) or the
    // send failed (counted). `id` is the request id sent.
    bool send_next(std::size_t batch, Steady::time_point stamp, std::uint64_t* id = nullptr) {
        std::uint32_t j = 0;
        if (!to_cancel_.empty()) {
            j = to_cancel_.front();
            to_cancel_.pop_front();
        } else if (auto fresh = new_job(batch)) {
            j = *fresh;
        } else {
            return false;
        }
        Job& job = jobs_[j];
        builder_.start();
        auto& fbb = builder_.fbb();
        std::uint32_t ops = 0;
        for (std::size_t i = 0; i < job.slot.size(); ++i) {
            const auto patient = fbb.CreateString(pools_.patient[job.patient[i]]);
            if (!job.cancelling) {
                wire::BookBuilder book(fbb);
                book.add_slot(job.slot[i]);
                book.add_patient(patient);
                builder_.add(book.Finish());
                ++ops;
            } else if (job.booking[i] != 0) {
                builder_.add(wire::CreateCancel(fbb, job.booking[i], patient));
                ++ops;
            }
        }
        const std::uint64_t request_id = next_id_++;
        if (!c_.send(builder_.finish(pools_.identity[job.group], request_id),
                     options_.timeout_ms)) {
            ++tally_.send_failures;
            abandon(j);
            return false;
        }
        flights_.emplace(request_id, Flight{j, ops, stamp});
        if (id) *id = request_id;
        return true;
    }

    struct Done {
        bool known = false;
        std::uint64_t id = 0;
        std::uint32_t ops = 0;     // operations the reply answered
        std::uint32_t ok_ops = 0;  // ... of which OK
        Steady::time_point stamp;
    };

    // Takes one reply (waiting at most timeout_ms) and moves its job on.
    bool wait_readable(std::chrono::nanoseconds timeout) { return c_.wait_readable(timeout); }
    std::optional<Done> receive(int timeout_ms) {
        auto reply = c_.receive(timeout_ms);
        if (!reply) return std::nullopt;
        return handle(*reply->message);
    }

    // Forgets the requests in flight (no reply came within the timeout): they count as
    // timeouts, and their slots and patients are retired (their state is unknown).
    void abandon_in_flight() {
        for (const auto& [id, f] : flights_) {
            ++tally_.timeouts;
            abandon(f.job);
        }
        flights_.clear();
    }

    // After a phase: waits for the replies in flight and cancels what is still booked, so the
    // next phase finds every slot free. Bounded: gives up after timeout_ms without a reply, or
    // after six times that in all (a server that keeps refusing with OVERLOADED).
    bool settle() {
        const auto deadline = Steady::now() + 6 * std::chrono::milliseconds(options_.timeout_ms);
        while (!flights_.empty() || !to_cancel_.empty()) {
            while (!to_cancel_.empty() && flights_.size() < options_.window) {
                if (!send_next(1, Steady::now())) break;
            }
            if (flights_.empty()) continue;
            if (!receive(options_.timeout_ms) || Steady::now() > deadline) {
                abandon_in_flight();
                for (std::uint32_t j : to_cancel_) abandon(j);
                to_cancel_.clear();
                return false;
            }
        }
        return true;
    }

  private:
    std::optional<std::uint32_t> new_job(std::size_t batch) {
        if (pools_.patients_free.size() < batch) return std::nullopt;
        const std::size_t groups = pools_.slots.size();
        for (std::size_t k = 0; k < groups; ++k) {
            const std::size_t g = (pools_.next_group + k) % groups;
            if (pools_.slots[g].size() < batch) continue;
            pools_.next_group = (g + 1) % groups;
            std::uint32_t j = 0;
            if (!free_jobs_.empty()) {
                j = free_jobs_.back();
                free_jobs_.pop_back();
            } else {
                j = static_cast<std::uint32_t>(jobs_.size());
                jobs_.emplace_back();
            }
            Job& job = jobs_[j];
            job.group = static_cast<std::uint32_t>(g);
            job.cancelling = false;
            job.slot.clear();
            job.patient.clear();
            job.booking.assign(batch, 0);
            for (std::size_t i = 0; i < batch; ++i) {
                job.slot.push_back(pools_.slots[g].front());
                pools_.slots[g].pop_front();
                job.patient.push_back(pools_.patients_free.front());
                pools_.patients_free.pop_front();
            }
            ++jobs_active_;
            return j;
        }
        return std::nullopt;
    }

    void finish(std::uint32_t j) {
        free_jobs_.push_back(j);
        --jobs_active_;
    }

    // The job's state on the server is unknown: its slots and patients leave the pools.
    void abandon(std::uint32_t j) {
        Job& job = jobs_[j];
        pools_.slots_retired += job.slot.size();
        pools_.patients_retired += job.patient.size();
        finish(j);
    }

    void give_back_slot(const Job& job, std::size_t i) {
        pools_.slots[job.group].push_back(job.slot[i]);
    }
    void give_back_patient(const Job& job, std::size_t i) {
        pools_.patients_free.push_back(job.patient[i]);
    }

    using Results = fb::Vector<fb::Offset<wire::Result>>;

    // Moves the job of one reply on: the whole message refused, or one result per operation,
    // for the job's books or for its cancels.
    Done handle(const wire::ReplyMessage& m) {
        Done done;
        done.id = m.request_id();
        const auto it = flights_.find(m.request_id());
        if (it == flights_.end()) {
            ++tally_.bad_replies;  // a late reply to an abandoned request, or not ours
            return done;
        }
        const Flight f = it->second;
        flights_.erase(it);
        done.known = true;
        done.ops = f.ops;
        done.stamp = f.stamp;
        if (m.error()) {
            message_refused(f, m.error()->code());
            return done;
        }
        if (!m.results() || m.results()->size() != f.ops) {
            ++tally_.bad_replies;
            abandon(f.job);
            return done;
        }
        done.ok_ops = jobs_[f.job].cancelling ? cancels_answered(f.job, *m.results())
                                              : books_answered(f.job, *m.results());
        return done;
    }

    // The whole message was refused. OVERLOADED changed nothing, so the job can go on: its
    // cancels are sent again, or its slots and patients go back. Anything else: state unknown.
    void message_refused(const Flight& f, wire::ErrorCode code) {
        tally_.refused[std::string("message ") + wire::EnumNameErrorCode(code)] += f.ops;
        Job& job = jobs_[f.job];
        if (code != wire::ErrorCode::OVERLOADED) {
            abandon(f.job);
        } else if (job.cancelling) {
            to_cancel_.push_back(f.job);  // nothing was changed: the bookings still stand
        } else {
            for (std::size_t i = 0; i < job.slot.size(); ++i) {
                give_back_slot(job, i);
                give_back_patient(job, i);
            }
            finish(f.job);
        }
    }

    // One result per slot of job `j`: the slots booked wait for their cancels (the job turns to
    // cancelling); a job with none booked is finished. Returns the operations answered OK.
    std::uint32_t books_answered(std::uint32_t j, const Results& results) {
        Job& job = jobs_[j];
        std::uint32_t ok_ops = 0;
        std::uint32_t r = 0;
        for (std::size_t i = 0; i < job.slot.size(); ++i, ++r) {
            const wire::Result* result = results.Get(r);
            const wire::BookingReply* booked = result->body_as_BookingReply();
            if (result->error() || !booked || !booked->booking()) {
                book_refused(job, i,
                             result->error() ? result->error()->code() : wire::ErrorCode::OK);
                continue;
            }
            job.booking[i] = booked->booking()->booking_id();
            ++tally_.ok;
            ++ok_ops;
        }
        if (ok_ops > 0) {
            job.cancelling = true;
            to_cancel_.push_back(j);
        } else {
            finish(j);
        }
        return ok_ops;
    }

    // The book of the job's i-th slot was refused (`code` OK: a reply without a booking).
    void book_refused(Job& job, std::size_t i, wire::ErrorCode code) {
        ++tally_.refused[std::string("book ") + wire::EnumNameErrorCode(code)];
        // Someone else has the slot, or it is no longer bookable: retire it. Other refusals
        // (OVERLOADED ...) changed nothing: the slot goes back.
        if (code == wire::ErrorCode::SLOT_ALREADY_RESERVED ||
            code == wire::ErrorCode::SLOT_NOT_AVAILABLE ||
            code == wire::ErrorCode::SLOT_HAS_PASSED || code == wire::ErrorCode::OK) {
            ++pools_.slots_retired;
        } else {
            give_back_slot(job, i);
        }
        if (code == wire::ErrorCode::PATIENT_ALREADY_OCCUPIED) {
            ++pools_.patients_retired;
        } else {
            give_back_patient(job, i);
        }
        job.booking[i] = 0;
    }

    // One result per booking of job `j` (the refused books have none): a cancelled slot and
    // its patient go back; a refused cancel retires both. Returns the operations answered OK.
    std::uint32_t cancels_answered(std::uint32_t j, const Results& results) {
        Job& job = jobs_[j];
        std::uint32_t ok_ops = 0;
        std::uint32_t r = 0;
        for (std::size_t i = 0; i < job.slot.size(); ++i) {
            if (job.booking[i] == 0) continue;
            const wire::Result* result = results.Get(r++);
            if (result->error()) {
                ++tally_.refused[std::string("cancel ") +
                                 wire::EnumNameErrorCode(result->error()->code())];
                ++pools_.slots_retired;  // the booking may still hold it
                ++pools_.patients_retired;
                continue;
            }
            give_back_slot(job, i);
            give_back_patient(job, i);
            ++tally_.ok;
            ++ok_ops;
        }
        finish(j);
        return ok_ops;
    }

    client::Connection& c_;
    Pools& pools_;
    const Options& options_;
    client::RequestBuilder builder_;
    std::string client_name_;
    std::uint64_t next_id_ = 1;
    std::vector<Job> jobs_;
    std::vector<std::uint32_t> free_jobs_;
    std::size_t jobs_active_ = 0;
    std::deque<std::uint32_t> to_cancel_;
    std::unordered_map<std::uint64_t, Flight> flights_;
    Tally tally_;
};

// ---------------------------------------------------------------- the phases

struct LatencyFigures {
    double p50_us = std::nan(""), p99_us = std::nan(""), p999_us = std::nan("");
    std::size_t samples = 0;
    double rate = 0;       // requests answered per second
    std::size_t late = 0;  // open loop: requests sent more than 1 ms after their intended time
    std::size_t backlog_max = 0;  // open loop: most requests due and not yet sent
};

LatencyFigures latency_figures(std::vector<double>& us) {
    std::sort(us.begin(), us.end());
    LatencyFigures f;
    f.samples = us.size();
    f.p50_us = percentile(us, 0.50);
    f.p99_us = percentile(us, 0.99);
    f.p999_us = percentile(us, 0.999);
    return f;
}

// 1. One single-operation request in flight: alternately the book of a free slot and the
// cancel of that booking. Runs for duration_s, or for `requests` requests when that is set.
LatencyFigures round_trip(Runner& run, const Options& o) {
    std::vector<double> us;
    const auto start = Steady::now();
    const auto end =
        start + std::chrono::duration_cast<Nanos>(std::chrono::duration<double>(o.duration_s));
    for (;;) {
        if (o.requests ? us.size() >= o.requests : Steady::now() >= end) break;
        std::uint64_t id = 0;
        if (!run.send_next(1, Steady::now(), &id)) break;
        for (;;) {
            const auto done = run.receive(o.timeout_ms);
            if (!done) {
                run.abandon_in_flight();
                break;
            }
            if (done->known && done->id == id) {
                us.push_back(micros(Steady::now() - done->stamp));
                break;
            }
        }
        if (run.in_flight() != 0) break;  // timed out
    }
    const double elapsed = seconds(Steady::now() - start);
    LatencyFigures f = latency_figures(us);
    f.rate = static_cast<double>(f.samples) / elapsed;
    return f;
}

// 2 and 3. `window` messages of `batch` operations in flight, for duration_s; successful
// operations answered per second (replies that arrive after the end are not counted).
struct Throughput {
    double ops_per_s = 0;
    double messages_per_s = 0;
};

Throughput closed_loop(Runner& run, std::size_t window, std::size_t batch, double duration_s,
                       const Options& o) {
    const auto start = Steady::now();
    const auto end =
        start + std::chrono::duration_cast<Nanos>(std::chrono::duration<double>(duration_s));
    std::uint64_t ok_ops = 0, messages = 0;
    auto last_reply = start;
    for (;;) {
        auto now = Steady::now();
        if (now >= end) break;
        while (run.in_flight() < window && run.send_next(batch, now)) {
        }
        if (run.in_flight() == 0) break;  // nothing could be sent (see the pools)
        const int wait_ms = static_cast<int>(std::clamp<double>(
            std::ceil(std::chrono::duration<double, std::milli>(end - now).count()), 0,
            o.timeout_ms));
        auto done = run.receive(wait_ms);
        while (done) {
            now = Steady::now();
            last_reply = now;
            if (done->known && now < end) {
                ok_ops += done->ok_ops;
                ++messages;
            }
            done = run.receive(0);
        }
        if (Steady::now() - last_reply > std::chrono::milliseconds(o.timeout_ms)) {
            run.abandon_in_flight();
            break;
        }
    }
    const double elapsed = std::min(seconds(Steady::now() - start), duration_s);
    return {static_cast<double>(ok_ops) / elapsed, static_cast<double>(messages) / elapsed};
}

// 4. Single-operation requests on a fixed schedule: request k is due at start + k / rate and
// sent as soon as it is due (a cancel whose book has been answered, else a new book). Its
// latency runs from the time it was DUE to its reply, so a stall of the server (or of this
// client) counts against every request that should have been sent during it, and the figures
// do not flatter a server that slows down (coordinated omission). A request that cannot be
// sent on time waits in a backlog (still timed from its due time).
LatencyFigures open_loop(Runner& run, const Options& o) {
    const double interval_ns = 1e9 / o.rate;
    const auto total = static_cast<std::uint64_t>(o.rate * o.duration_s);
    std::vector<double> us;
    us.reserve(total);
    const auto start = Steady::now() + std::chrono::milliseconds(1);
    auto due_time = [&](std::uint64_t k) {
        return start + Nanos(static_cast<std::int64_t>(static_cast<double>(k) * interval_ns));
    };
    std::uint64_t sent = 0;
    std::size_t late = 0, backlog_max = 0;
    auto last_progress = Steady::now();
    auto last_reply = start;
    bool timed_out = false;
    while (sent < total || run.in_flight() > 0) {
        auto now = Steady::now();
        if (now >= start) {
            const auto elapsed_ns = std::chrono::duration_cast<Nanos>(now - start).count();
            const std::uint64_t due = std::min<std::uint64_t>(
                total,
                static_cast<std::uint64_t>(static_cast<double>(elapsed_ns) / interval_ns) + 1);
            backlog_max = std::max<std::size_t>(backlog_max, due - sent);
            while (sent < due) {
                const auto intended = due_time(sent);
                if (!run.send_next(1, intended)) break;  // the pools are empty: wait for replies
                if (Steady::now() - intended > std::chrono::milliseconds(1)) ++late;
                ++sent;
                last_progress = Steady::now();
            }
        }
        // Sleep until a reply comes or the next request is due, with microsecond resolution
        // (ppoll on ZeroMQ's descriptor): never spin next to ZeroMQ's I/O thread on 2 cores.
        now = Steady::now();
        const auto tick = Nanos(static_cast<std::int64_t>(o.send_tick_us * 1000));
        const auto wait = sent >= total ? Nanos(std::chrono::milliseconds(o.timeout_ms))
                                        : std::max(tick, due_time(sent) - now);
        if (run.in_flight() > 0) {
            auto done = run.wait_readable(wait) ? run.receive(0) : std::nullopt;
            while (done) {
                const auto at = Steady::now();
                if (done->known) {
                    us.push_back(micros(at - done->stamp));
                    last_reply = at;
                    last_progress = at;
                }
                done = run.receive(0);
            }
        } else if (wait > Nanos(0)) {
            std::this_thread::sleep_for(wait);
        }
        if (Steady::now() - last_progress > std::chrono::milliseconds(o.timeout_ms)) {
            timed_out = true;
            break;
        }
    }
    if (timed_out) {
        run.abandon_in_flight();
        run.tally().timeouts += total - sent;  // never sent: no server progress
    }
    LatencyFigures f = latency_figures(us);
    const double span = seconds(last_reply - start);
    f.rate = span > 0 ? static_cast<double>(f.samples) / span : 0;
    f.late = late;
    f.backlog_max = backlog_max;
    return f;
}

// ---------------------------------------------------------------- setting up

std::string iso_utc(std::int64_t epoch_s) {
    const std::time_t t = epoch_s;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

struct ServerFacts {
    std::uint64_t slots = 0;
    unsigned threads = 0;
    std::uint64_t messages = 0, operations = 0, replies_dropped = 0, malformed = 0;
    std::uint64_t retries_answered = 0;
    double p50_us = 0, p99_us = 0, p999_us = 0, max_us = 0;
    std::map<std::string, std::uint64_t> not_ok;  // "book SLOT_ALREADY_RESERVED" -> n
};

std::optional<ServerFacts> fetch_stats(client::Connection& c, const client::Identity& who,
                                       int timeout_ms) {
    client::RequestBuilder b;
    b.start();
    b.add(wire::CreateGetStats(b.fbb()));
    const std::uint64_t id = client::new_request_id();
    auto reply = c.call(b.finish(who, id), id, timeout_ms);
    if (!reply || !reply->message->results() || reply->message->results()->size() != 1) {
        return std::nullopt;
    }
    const wire::StatsReply* s = reply->message->results()->Get(0)->body_as_StatsReply();
    if (!s) return std::nullopt;
    ServerFacts f;
    f.slots = s->slots();
    f.threads = s->threads();
    f.messages = s->messages();
    f.operations = s->operations();
    f.replies_dropped = s->replies_dropped();
    f.malformed = s->malformed();
    f.retries_answered = s->retries_answered();
    f.p50_us = s->latency_us_p50();
    f.p99_us = s->latency_us_p99();
    f.p999_us = s->latency_us_p999();
    f.max_us = s->latency_us_max();
    if (s->counts()) {
        for (const wire::OpCount* n : *s->counts()) {
            if (!n->operation() || !n->outcome() || n->outcome()->str() == "OK") continue;
            f.not_ok[n->operation()->str() + ' ' + n->outcome()->str()] += n->count();
        }
    }
    return f;
}

// The units to take slots from: those that the channel may book and cancel in (or only
// --actor-unit), at most --units of them, spread over the region. Empty, with `why`, if none.
std::vector<std::size_t> units_to_search(const Catalog& catalog, const Options& o, Channel channel,
                                         std::string& why) {
    std::vector<std::size_t> candidates;
    for (std::size_t u = 0; u < catalog.units.size(); ++u) {
        if (!o.actor_unit.empty() && catalog.units[u].id != o.actor_unit) continue;
        if (channel == Channel::web &&
            !(catalog.units[u].web.booking_active && catalog.units[u].web.cancel_rebook_active)) {
            continue;
        }
        candidates.push_back(u);
    }
    if (candidates.empty()) {
        why = o.actor_unit.empty() ? "no unit allows web booking and cancelling"
                                   : "no unit " + o.actor_unit + " in the catalog";
        return {};
    }
    std::vector<std::size_t> units;  // spread over the region
    const std::size_t n = std::min(o.units, candidates.size());
    for (std::size_t i = 0; i < n; ++i) units.push_back(candidates[i * candidates.size() / n]);
    return units;
}

// What the search for free slots has in common across the units.
struct SlotSearch {
    client::Connection& connection;
    const Catalog& catalog;
    Channel channel;
    std::size_t share;    // free slots wanted from each unit
    std::int64_t from_s;  // the earliest start looked for (epoch seconds)
    int timeout_ms;
};

// One page of `find` in a unit, of slots starting at `page_from` or later; nothing when no
// reply came within the timeout.
std::optional<client::Reply> find_page(const SlotSearch& search, client::RequestBuilder& b,
                                       const std::string& unit_id, const client::Identity& who,
                                       std::int64_t page_from) {
    b.start();
    const auto unit = b.fbb().CreateString(unit_id);
    const auto from = b.fbb().CreateString(iso_utc(page_from));
    wire::FindBuilder find(b.fbb());
    find.add_unit(unit);
    find.add_from(from);
    find.add_limit(codec::find_limit_max);
    b.add(find.Finish());
    const std::uint64_t id = client::new_request_id();
    return search.connection.call(b.finish(who, id), id, search.timeout_ms);
}

// Why a find in a unit was refused (`r`: its one result, if any).
std::string find_refusal(const wire::ReplyMessage& m, const wire::Result* r,
                         const std::string& unit_id) {
    const wire::Error* e = m.error() ? m.error() : r ? r->error() : nullptr;
    return "find in unit " + unit_id + " refused: " +
           (e ? std::string(wire::EnumNameErrorCode(e->code())) +
                    (e->message() ? " (" + e->message()->str() + ")" : "")
              : std::string("no slot list"));
}

// Adds a page's slots to `found`, up to the unit's share; the web keeps only the slots whose
// appointment type it may see and cancel.
void keep_free_slots(const SlotSearch& search, const fb::Vector<const wire::Slot*>& slots,
                     std::deque<std::uint32_t>& found) {
    for (const wire::Slot* s : slots) {
        if (found.size() >= search.share) break;
        if (search.channel == Channel::web) {
            const AppointmentType& t = search.catalog.types.at(s->appointment_type());
            if (!t.web_cancellable || !t.web_visible()) continue;
        }
        found.push_back(s->slot_id());
    }
}

// Pages through `find` in one unit until its share is found or it has no more free slots.
// False, with `why`, when a find goes unanswered or is refused.
bool find_unit_slots(const SlotSearch& search, client::RequestBuilder& b,
                     const std::string& unit_id, const client::Identity& who,
                     std::deque<std::uint32_t>& found, std::string& why) {
    std::int64_t page_from = search.from_s;
    while (found.size() < search.share) {
        const auto reply = find_page(search, b, unit_id, who, page_from);
        if (!reply) {
            why = "no reply to a find within " + std::to_string(search.timeout_ms) + " ms";
            return false;
        }
        const wire::ReplyMessage& m = *reply->message;
        const wire::Result* r =
            m.results() && m.results()->size() == 1 ? m.results()->Get(0) : nullptr;
        if (m.error() || !r || !r->body_as_SlotList()) {
            why = find_refusal(m, r, unit_id);
            return false;
        }
        const auto* slots = r->body_as_SlotList()->slots();
        if (!slots || slots->size() == 0) break;
        keep_free_slots(search, *slots, found);
        if (slots->size() < codec::find_limit_max) break;
        page_from = slots->Get(slots->size() - 1)->start() + 1;
    }
    return true;
}

// Finds free slots for the pools: per unit, pages of `find` (1,000 slots at most each, from an
// hour from now so that no slot starts during the run), until the unit's share is reached.
// Staff act from the slot's unit (one group per unit); the web keeps only slots whose type and
// unit allow a web cancel (one group).
bool fill_pools(client::Connection& c, const Catalog& catalog, const Options& o, Channel channel,
                Pools& pools, std::string& why) {
    const std::vector<std::size_t> units = units_to_search(catalog, o, channel, why);
    if (units.empty()) return false;
    const std::size_t share = (o.slots + units.size() - 1) / units.size();
    const std::int64_t from_s = std::chrono::duration_cast<std::chrono::seconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count() +
                                3600;
    const SlotSearch search{c, catalog, channel, share, from_s, o.timeout_ms};

    client::Identity web{Channel::web, o.actor, "", "", ""};
    if (channel == Channel::web) {
        pools.identity.push_back(web);
        pools.group_name.push_back("web");
        pools.slots.emplace_back();
    }
    client::RequestBuilder b;
    for (std::size_t u : units) {
        client::Identity who = web;
        if (channel == Channel::staff) {
            who = {Channel::staff, o.actor, "Wire Bench", catalog.units[u].id, ""};
        }
        std::deque<std::uint32_t> found;
        if (!find_unit_slots(search, b, catalog.units[u].id, who, found, why)) return false;
        if (found.empty()) continue;
        pools.slots_total += found.size();
        if (channel == Channel::web) {
            for (auto s : found) pools.slots[0].push_back(s);
        } else {
            pools.identity.push_back(who);
            pools.group_name.push_back(catalog.units[u].id);
            pools.slots.push_back(std::move(found));
        }
    }
    if (pools.slots_total == 0) {
        why =
            "no free slot starting an hour from now or later that this channel may book and "
            "cancel";
        return false;
    }
    return true;
}

// ---------------------------------------------------------------- output

struct Figure {
    std::string phase;
    std::string name;
    std::string unit;
    std::vector<double> values;  // one per repetition
};

std::string number(double v, int decimals = 0) {
    if (std::isnan(v)) return "-";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    const std::string s = buf;
    // Thousands separators on the integer part.
    const std::size_t begin = s[0] == '-' ? 1 : 0;
    const std::size_t end = std::min(s.find('.'), s.size());
    std::string out = s.substr(0, begin);
    for (std::size_t i = begin; i < end; ++i) {
        if (i > begin && (end - i) % 3 == 0) out += ',';
        out += s[i];
    }
    out += s.substr(end);
    return out;
}

int decimals_for(const std::string& unit) {
    return unit == "µs" ? 1 : 0;  // per cent, counts and rates: whole numbers
}

// ---------------------------------------------------------------- the command line

// The options, bound to `o`; --batch goes to `batches_text` (check_options parses it).
void describe_options(po::options_description& options, Options& o, std::string& batches_text) {
    const std::string batch_help = "phase 3: operations per message, a comma-separated list (1.." +
                                   std::to_string(codec::batch_ops_max) + " each)";
    options.add_options()("help,h", "print this help and exit")(
        "server", po::value(&o.server), "measure a slotmatchd that is running at this endpoint")(
        "config", po::value(&o.config),
        "start slotmatchd on this region (--listen tcp://127.0.0.1:*), stop it with SIGTERM at "
        "the end")("slotmatchd", po::value(&o.slotmatchd),
                   "the slotmatchd binary (default: ../tools/slotmatchd next to this program)")(
        "threads", po::value(&o.threads)->default_value(o.threads),
        "slotmatchd --threads (with --config)")(
        "duration-s", po::value(&o.duration_s)->default_value(o.duration_s),
        "seconds per phase and repetition")(
        "warmup-s", po::value(&o.warmup_s)->default_value(o.warmup_s),
        "seconds of pipelined book + cancel before the first repetition (not reported)")(
        "repetitions", po::value(&o.repetitions)->default_value(o.repetitions),
        "repetitions of every phase; the table shows their median")(
        "requests", po::value(&o.requests)->default_value(o.requests),
        "phase 1: this many round trips (0: as many as --duration-s allows)")(
        "window", po::value(&o.window)->default_value(o.window),
        "phase 2: single-operation requests in flight")(
        "batch", po::value(&batches_text)->default_value(batches_text), batch_help.c_str())(
        "batch-window", po::value(&o.batch_window)->default_value(o.batch_window),
        "phase 3: messages in flight")("rate", po::value(&o.rate)->default_value(o.rate),
                                       "phase 4: requests per second")(
        "send-tick-us", po::value(&o.send_tick_us)->default_value(o.send_tick_us),
        "phase 4: sleep at least this long between sends (the requests due meanwhile go out "
        "together, still timed from when each was due); 0 wakes for every request")(
        "phases", po::value(&o.phases)->default_value(o.phases), "the phases to run, e.g. 4 or 13")(
        "channel", po::value(&o.channel)->default_value(o.channel),
        "staff (acting from each slot's unit, or from --actor-unit) | web")(
        "actor", po::value(&o.actor)->default_value(o.actor), "the actor id requests carry")(
        "actor-unit", po::value(&o.actor_unit),
        "staff: use only this unit's slots (default: up to --units units)")(
        "units", po::value(&o.units)->default_value(o.units),
        "units to take slots from, spread over the region")(
        "slots", po::value(&o.slots)->default_value(o.slots),
        "free slots to work on (found with `find` at the start)")(
        "patients", po::value(&o.patients)->default_value(o.patients),
        "distinct patients (at most a quarter of the server's patient table is used)")(
        "timeout-ms", po::value(&o.timeout_ms)->default_value(o.timeout_ms),
        "give up on a reply after this long (counted as a timeout)")(
        "start-timeout-s", po::value(&o.start_timeout_s)->default_value(o.start_timeout_s),
        "wait this long at most for slotmatchd to load its region and listen")(
        "json", po::value(&o.json_path), "also write the figures as JSON to this file");
}

// Prints why the command line is wrong, and the options; returns the exit code for that.
int usage(const po::options_description& options, const std::string& why) {
    std::cerr << "slotmatch_wire_bench: " << why << "\n\n" << options;
    return 2;
}

// --batch: operations per message, comma-separated. False on a size that is not 1 to
// codec::batch_ops_max.
bool parse_batches(const std::string& text, std::vector<std::size_t>& batches) {
    batches.clear();
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        char* end = nullptr;
        const unsigned long v = std::strtoul(item.c_str(), &end, 10);
        if (item.empty() || *end != '\0' || v < 1 || v > codec::batch_ops_max) return false;
        batches.push_back(v);
    }
    return true;
}

// The first thing wrong with the options, if any; fills o.batches from `batches_text`.
std::optional<std::string> check_options(Options& o, const po::variables_map& parsed,
                                         const std::string& batches_text) {
    if (o.server.empty() == o.config.empty()) return "give exactly one of --server and --config";
    if (!o.server.empty() && !parsed.at("threads").defaulted()) {
        return "--threads is for the slotmatchd this program starts (--config)";
    }
    if (!parse_batches(batches_text, o.batches)) {
        return "--batch takes operations per message, 1.." + std::to_string(codec::batch_ops_max) +
               ", comma-separated";
    }
    if (o.batches.empty()) return "--batch needs at least one size";
    if (!(o.duration_s > 0 && o.duration_s <= 3600) || o.warmup_s < 0 || o.warmup_s > 3600) {
        return "--duration-s must be in (0, 3600] and --warmup-s in [0, 3600]";
    }
    if (o.repetitions < 1 || o.repetitions > 100) return "--repetitions must be 1..100";
    if (o.window < 1 || o.window > 100'000 || o.batch_window < 1 || o.batch_window > 1024) {
        return "--window must be 1..100000 and --batch-window 1..1024";
    }
    if (!(o.rate >= 1 && o.rate <= 10'000'000)) return "--rate must be 1..10000000";
    if (o.threads < 1 || o.threads > 32) return "--threads must be 1..32";
    if (o.timeout_ms < 1 || o.start_timeout_s <= 0) {
        return "--timeout-ms and --start-timeout-s must be positive";
    }
    if (o.units < 1 || o.slots < 1 || o.patients < 1) {
        return "--units, --slots and --patients must be positive";
    }
    if (o.channel == "web") {
        if (!o.actor_unit.empty()) return "--actor-unit is for --channel staff";
    } else if (o.channel != "staff") {
        return "--channel must be staff or web";
    }
    return std::nullopt;
}

// ---------------------------------------------------------------- the server and the work

// Starts slotmatchd on the region of --config, listening on a free loopback port, and prints
// its command line (also left in `server_command`). False, after printing why, if it failed.
bool start_server(const Options& o, process::ServerProcess& server, std::string& server_command) {
    std::vector<std::string> args{"--config",  o.config,
                                  "--threads", std::to_string(o.threads),
                                  "--listen",  "tcp://127.0.0.1:*"};
    std::vector<std::string> shown = args;
    shown.insert(shown.begin(), o.slotmatchd);
    std::vector<char*> shown_argv;
    shown_argv.reserve(shown.size());
    for (auto& a : shown) shown_argv.push_back(a.data());
    server_command = quoted_command_line(static_cast<int>(shown_argv.size()), shown_argv.data());
    std::cout << "server: starting " << server_command << std::endl;
    std::string why;
    const auto t0 = Steady::now();
    if (!server.start(o.slotmatchd, args, o.start_timeout_s, why)) {
        std::cerr << "slotmatch_wire_bench: " << why << '\n';
        return false;
    }
    std::cout << "server: listening on " << server.endpoint() << " after "
              << number(seconds(Steady::now() - t0), 2) << " s" << std::endl;
    return true;
}

// Who asks the server for its catalog and its counters.
client::Identity stats_identity(const Options& o) {
    return {Channel::web, o.actor, "", "", ""};
}

// What a run measured and what it ran against: everything the report prints and writes.
struct Report {
    std::string command_line;
    std::string load_at_start;
    std::string endpoint;
    std::string server_command;        // empty: a server that was running (--server)
    ServerFacts before;                // the server's counters before the phases ...
    std::optional<ServerFacts> after;  // ... and after them (nothing: no reply)
    std::size_t patients = 0;
    std::vector<Figure> figures;
    std::vector<std::pair<std::string, Tally>> tallies;  // by phase, in their order
    bool settled = true;                                 // every job settled after every phase
};

// Patients: distinct, valid, and few enough for the server's patient table (a power of two
// at least the slot count, never emptied), which this leaves three quarters free.
std::size_t patient_count(const Options& o, std::uint64_t server_slots) {
    std::size_t table = 1024;
    while (table < std::max<std::uint64_t>(1024, server_slots)) table *= 2;
    return std::min(o.patients, table / 4);
}

// The first `patients` patients, all free. False, after printing it, on an invalid one.
bool add_patients(Pools& pools, std::size_t patients) {
    for (std::size_t i = 0; i < patients; ++i) {
        pools.patient.push_back(personnummer(i));
        if (!parse_patient_id(pools.patient.back()).key) {
            std::cerr << "slotmatch_wire_bench: generated an invalid personnummer "
                      << pools.patient.back() << " (a bug here)\n";
            return false;
        }
        pools.patients_free.push_back(static_cast<std::uint32_t>(i));
    }
    return true;
}

void print_work(const Options& o, Channel channel, const Pools& pools, const Report& report,
                std::size_t units) {
    std::cout << "server: " << report.endpoint << ", "
              << number(static_cast<double>(report.before.slots)) << " slots, "
              << report.before.threads << " thread(s), " << units << " units\n";
    std::cout << "work: book a free slot, then cancel that booking (one operation each); "
              << number(static_cast<double>(pools.slots_total)) << " slots from "
              << (channel == Channel::staff ? std::to_string(pools.slots.size()) + " units"
                                            : std::string("the web's units"))
              << ", " << number(static_cast<double>(report.patients)) << " patients; channel "
              << o.channel << (channel == Channel::staff ? " (acting from each slot's unit)" : "")
              << '\n';
}

// A job takes all its slots from one unit, and one patient per slot: the largest batch must
// find that many. Windows larger than the slots and patients allow only earn a note.
bool work_fits(const Options& o, const Pools& pools, std::size_t patients) {
    const std::size_t batch_max = *std::max_element(o.batches.begin(), o.batches.end());
    if (pools.largest_group() < batch_max || patients < batch_max) {
        std::cerr << "slotmatch_wire_bench: a batch of " << batch_max
                  << " needs as many free slots in one unit and patients; the largest unit has "
                  << pools.largest_group() << " (raise --slots or lower --units)\n";
        return false;
    }
    const std::size_t in_flight_max = std::min(pools.slots_total, patients);
    if (o.window > in_flight_max || o.batch_window * batch_max > in_flight_max) {
        std::cout << "note: at most " << in_flight_max
                  << " operations can be in flight (slots and patients); larger windows are "
                     "capped by that\n";
    }
    return true;
}

// Asks the server for its catalog and counters, and fills the pools with patients and free
// slots. False, after printing why, when the server does not answer or the work does not fit.
bool prepare_work(client::Connection& connection, const Options& o, Channel channel, Pools& pools,
                  Report& report) {
    std::string why;
    auto catalog = client::fetch_catalog(connection, stats_identity(o), o.timeout_ms, why);
    if (!catalog) {
        std::cerr << "slotmatch_wire_bench: no catalog from " << report.endpoint << ": " << why
                  << '\n';
        return false;
    }
    const auto facts_before = fetch_stats(connection, stats_identity(o), o.timeout_ms);
    if (!facts_before) {
        std::cerr << "slotmatch_wire_bench: no stats from " << report.endpoint << '\n';
        return false;
    }
    report.before = *facts_before;
    report.patients = patient_count(o, facts_before->slots);
    if (!add_patients(pools, report.patients)) return false;
    if (!fill_pools(connection, *catalog, o, channel, pools, why)) {
        std::cerr << "slotmatch_wire_bench: " << why << '\n';
        return false;
    }
    print_work(o, channel, pools, report, catalog->units.size());
    return work_fits(o, pools, report.patients);
}

// ---------------------------------------------------------------- running the phases

// Runs the phases and gathers, into the report, each figure's value in every repetition and
// each phase's tally (what was refused, what timed out ...), in the order they first came.
class Phases {
  public:
    Phases(Runner& run, pid_t server, const Options& o, Report& report)
        : run_(run),
          cpu_(server),
          o_(o),
          report_(report),
          round_trip_name_("1 round trip, 1 in flight"),
          pipelined_name_("2 pipelined, window " + std::to_string(o.window)),
          open_loop_name_("4 open loop at " + number(o.rate) + " req/s") {}

    // Pipelined book + cancel for --warmup-s: tallied, but no figures.
    void warm_up() {
        closed_loop(run_, o_.window, 1, o_.warmup_s, o_);
        done("0 warm-up, pipelined (no figures)");
    }

    // One repetition of the phases that --phases names.
    void repetition() {
        if (runs('1')) measure_round_trip();
        if (runs('2')) measure_pipelined();
        if (runs('3')) {
            for (std::size_t batch : o_.batches) measure_batched(batch);
        }
        if (runs('4')) measure_open_loop();
    }

  private:
    bool runs(char phase) const { return o_.phases.find(phase) != std::string::npos; }

    // Adds this repetition's value of a figure (a new figure goes last in the table).
    void add(const std::string& phase, const std::string& name, const std::string& unit,
             double value) {
        figure(phase, name, unit).values.push_back(value);
    }
    Figure& figure(const std::string& phase, const std::string& name, const std::string& unit) {
        for (auto& f : report_.figures) {
            if (f.phase == phase && f.name == name) return f;
        }
        report_.figures.push_back({phase, name, unit, {}});
        return report_.figures.back();
    }
    void add_cpu(const std::string& phase, std::pair<double, double> used) {
        add(phase, "CPU client", "%", used.first);
        add(phase, "CPU server", "%", used.second);
    }

    // The phase has ended: settles its jobs, so the next phase finds every slot free, and
    // adds what they saw to the phase's tally.
    void done(const std::string& phase) {
        report_.settled = run_.settle() && report_.settled;
        auto& tallies = report_.tallies;
        auto it = std::find_if(tallies.begin(), tallies.end(),
                               [&](const auto& t) { return t.first == phase; });
        if (it == tallies.end()) it = tallies.insert(tallies.end(), {phase, Tally{}});
        it->second.add(run_.tally());
        run_.tally() = Tally{};
    }

    void measure_round_trip() {
        cpu_.start();
        const LatencyFigures f = round_trip(run_, o_);
        const auto used = cpu_.percent();
        done(round_trip_name_);
        add(round_trip_name_, "p50", "µs", f.p50_us);
        add(round_trip_name_, "p99", "µs", f.p99_us);
        add(round_trip_name_, "p999", "µs", f.p999_us);
        add(round_trip_name_, "requests", "", static_cast<double>(f.samples));
        add_cpu(round_trip_name_, used);
    }

    void measure_pipelined() {
        cpu_.start();
        const Throughput t = closed_loop(run_, o_.window, 1, o_.duration_s, o_);
        const auto used = cpu_.percent();
        done(pipelined_name_);
        add(pipelined_name_, "operations/s", "", t.ops_per_s);
        add_cpu(pipelined_name_, used);
    }

    void measure_batched(std::size_t batch) {
        const std::string phase = "3 batched, " + std::to_string(batch) + " ops/message, " +
                                  std::to_string(o_.batch_window) + " in flight";
        cpu_.start();
        const Throughput t = closed_loop(run_, o_.batch_window, batch, o_.duration_s, o_);
        const auto used = cpu_.percent();
        done(phase);
        add(phase, "operations/s", "", t.ops_per_s);
        add(phase, "messages/s", "", t.messages_per_s);
        add_cpu(phase, used);
    }

    void measure_open_loop() {
        cpu_.start();
        const LatencyFigures f = open_loop(run_, o_);
        const auto used = cpu_.percent();
        done(open_loop_name_);
        add(open_loop_name_, "p50", "µs", f.p50_us);
        add(open_loop_name_, "p99", "µs", f.p99_us);
        add(open_loop_name_, "p999", "µs", f.p999_us);
        add(open_loop_name_, "achieved req/s", "", f.rate);
        add(open_loop_name_, "sent >1 ms late", "", static_cast<double>(f.late));
        add(open_loop_name_, "backlog max", "", static_cast<double>(f.backlog_max));
        add_cpu(open_loop_name_, used);
    }

    Runner& run_;
    CpuMeter cpu_;
    const Options& o_;
    Report& report_;
    const std::string round_trip_name_;
    const std::string pipelined_name_;
    const std::string open_loop_name_;
};

// The warm-up, then --repetitions repetitions of the phases; then the server's counters.
void run_phases(client::Connection& connection, const Options& o, pid_t server, Pools& pools,
                Report& report) {
    std::cout << "phases: " << number(o.duration_s, 1) << " s each, " << o.repetitions
              << " repetition(s), median shown" << std::endl;
    Runner run(connection, pools, o);
    Phases phases(run, server, o, report);
    if (o.warmup_s > 0) phases.warm_up();
    for (unsigned rep = 0; rep < o.repetitions; ++rep) phases.repetition();
    report.after = fetch_stats(connection, stats_identity(o), o.timeout_ms);
}

// ---------------------------------------------------------------- the report

// The table: each figure's median over the repetitions, and their range.
void print_figures(const std::vector<Figure>& figures) {
    std::cout << '\n';
    char line[256];
    std::snprintf(line, sizeof line, "%-52s %-16s %14s %14s %14s\n", "phase", "figure", "median",
                  "min", "max");
    std::cout << line;
    std::string last_phase;
    for (const Figure& f : figures) {
        std::vector<double> v = f.values;
        v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return std::isnan(x); }),
                v.end());
        const int d = decimals_for(f.unit);
        const double lo = v.empty() ? std::nan("") : *std::min_element(v.begin(), v.end());
        const double hi = v.empty() ? std::nan("") : *std::max_element(v.begin(), v.end());
        const std::string name = f.name + (f.unit.empty() ? "" : " (" + f.unit + ")");
        std::snprintf(line, sizeof line, "%-52s %-16s %14s %14s %14s\n",
                      f.phase == last_phase ? "" : f.phase.c_str(), name.c_str(),
                      number(median(f.values), d).c_str(), number(lo, d).c_str(),
                      number(hi, d).c_str());
        std::cout << line;
        last_phase = f.phase;
    }
    std::cout << "\nphase 1 and 4 latencies: a book or a cancel (alternating per job), each one "
                 "single-operation request;\nphase 4 timed from each request's intended send "
                 "time. Throughputs count operations answered OK.\n";
}

// Refusals and everything else that went wrong, per phase; returns their sum over the phases.
Tally print_outcomes(const Report& report, const Pools& pools) {
    Tally all;
    std::cout << '\n';
    for (const auto& [phase, t] : report.tallies) {
        all.add(t);
        std::cout << phase << ": " << number(static_cast<double>(t.ok)) << " ok, "
                  << number(static_cast<double>(t.refused_total())) << " refused";
        for (const auto& [code, n] : t.refused) std::cout << " [" << code << ' ' << n << ']';
        if (t.timeouts) std::cout << ", " << t.timeouts << " timed out";
        if (t.bad_replies) std::cout << ", " << t.bad_replies << " unexpected replies";
        if (t.send_failures) std::cout << ", " << t.send_failures << " sends failed";
        std::cout << '\n';
    }
    std::cout << "pools: " << pools.slots_retired << " slots and " << pools.patients_retired
              << " patients retired after refusals or timeouts; every job settled: "
              << (report.settled ? "yes" : "NO") << '\n';
    return all;
}

// What the server counted during the run: its counters after the phases less those before.
void print_server_stats(const ServerFacts& before, const std::optional<ServerFacts>& after) {
    if (!after) {
        std::cout << "server stats: no reply\n";
        return;
    }
    const ServerFacts& a = *after;
    std::cout << "server stats: " << number(static_cast<double>(a.messages - before.messages))
              << " messages, " << number(static_cast<double>(a.operations - before.operations))
              << " operations during the run; replies dropped " << a.replies_dropped
              << ", malformed " << a.malformed << ", retries answered " << a.retries_answered
              << "; receive->reply since start p50 " << number(a.p50_us, 1) << " µs, p99 "
              << number(a.p99_us, 1) << " µs, p999 " << number(a.p999_us, 1) << " µs, max "
              << number(a.max_us, 1) << " µs\n";
    for (const auto& [what, n] : a.not_ok) {
        const auto was = before.not_ok.count(what) ? before.not_ok.at(what) : 0;
        if (n > was) std::cout << "server counted refusals: " << what << ' ' << n - was << '\n';
    }
}

// Figures are worth reporting only when nearly every operation succeeded and none timed out;
// otherwise says so (the run then fails).
bool measured_successful_work(const Tally& all) {
    if (all.ok == 0 || all.refused_total() * 100 > all.ok || all.timeouts > 0) {
        std::cerr << "slotmatch_wire_bench: " << all.refused_total() << " refused and "
                  << all.timeouts << " timed out against " << all.ok
                  << " operations answered OK: these figures do not measure successful work\n";
        return false;
    }
    return true;
}

// Stops the server this program started (SIGTERM) and prints how it ended. False unless it
// exited cleanly; its output is then kept, and where it is printed.
bool stop_server(process::ServerProcess& server) {
    const int status = server.stop();
    std::string end;
    const std::string out = server.output();
    const auto at = out.find("slotmatchd: stopped after");
    if (at != std::string::npos) end = out.substr(at, out.find('\n', at) - at);
    const bool clean = !server.killed() && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    std::cout << "server: SIGTERM; "
              << (server.killed()       ? std::string("did not stop within 10 s, killed")
                  : WIFEXITED(status)   ? "exit " + std::to_string(WEXITSTATUS(status))
                  : WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                        : std::string("?"))
              << (end.empty() ? "" : "; " + end) << '\n';
    if (!clean) {
        std::cout << "server: its output is in " << server.log() << '\n';
        return false;
    }
    server.remove_log();
    return true;
}

json figures_json(const std::vector<Figure>& figures) {
    json list = json::array();
    for (const Figure& f : figures) {
        json values = json::array();
        for (double v : f.values) values.push_back(std::isnan(v) ? json(nullptr) : json(v));
        const double m = median(f.values);
        list.push_back({{"phase", f.phase},
                        {"figure", f.name},
                        {"unit", f.unit},
                        {"median", std::isnan(m) ? json(nullptr) : json(m)},
                        {"repetitions", values}});
    }
    return list;
}

json outcomes_json(const std::vector<std::pair<std::string, Tally>>& tallies) {
    json t = json::object();
    for (const auto& [phase, tally] : tallies) {
        t[phase] = {{"ok", tally.ok},
                    {"refused", tally.refused},
                    {"timeouts", tally.timeouts},
                    {"unexpected_replies", tally.bad_replies},
                    {"send_failures", tally.send_failures}};
    }
    return t;
}

// The report as JSON (--json): the machine, the server, the work, the options, the figures
// and the outcomes.
json report_json(const Report& r, const Options& o, const Pools& pools) {
    json j;
    j["command"] = r.command_line;
    j["machine"] = {{"nproc", nproc()},
                    {"cpu_model", cpu_model()},
                    {"kernel", kernel()},
                    {"load_average_at_start", r.load_at_start}};
    j["server"] = {{"endpoint", r.endpoint},
                   {"started", r.server_command.empty() ? json(nullptr) : json(r.server_command)},
                   {"slots", r.before.slots},
                   {"threads", r.before.threads}};
    j["work"] = {{"channel", o.channel},
                 {"slots", pools.slots_total},
                 {"groups", pools.slots.size()},
                 {"patients", r.patients}};
    j["options"] = {{"duration_s", o.duration_s},
                    {"warmup_s", o.warmup_s},
                    {"repetitions", o.repetitions},
                    {"requests", o.requests},
                    {"window", o.window},
                    {"batches", o.batches},
                    {"batch_window", o.batch_window},
                    {"rate", o.rate},
                    {"send_tick_us", o.send_tick_us},
                    {"phases", o.phases}};
    j["figures"] = figures_json(r.figures);
    j["outcomes"] = outcomes_json(r.tallies);
    if (r.after) {
        const ServerFacts& a = *r.after;
        j["server_stats"] = {
            {"messages", a.messages - r.before.messages},
            {"operations", a.operations - r.before.operations},
            {"replies_dropped", a.replies_dropped},
            {"malformed", a.malformed},
            {"receive_to_reply_us_since_start",
             {{"p50", a.p50_us}, {"p99", a.p99_us}, {"p999", a.p999_us}, {"max", a.max_us}}}};
    }
    return j;
}

bool write_json(const std::string& path, const json& j) {
    std::ofstream out(path);
    out << j.dump(2) << '\n';
    out.close();
    if (!out) {
        std::cerr << "slotmatch_wire_bench: cannot write " << path << '\n';
        return false;
    }
    return true;
}

// ---------------------------------------------------------------- the program

// Options, then the server (started here with --config), the work, the phases, the report.
int bench_main(int argc, char** argv) {
    Options o;
    std::string batches_text = "64,256";
    po::options_description options(
        "slotmatch_wire_bench (--config region.yaml [--threads T] | --server ENDPOINT) [options]");
    describe_options(options, o, batches_text);
    int exit_code = 0;
    const auto parsed = tools::parse_command_line(
        argc, argv, options, "slotmatch_wire_bench",
        "slotmatchd end to end over loopback ZeroMQ: round-trip latency, pipelined and batched "
        "throughput, and latency at a fixed request rate (from the intended send time)",
        exit_code);
    if (!parsed) return exit_code;
    if (const auto why = check_options(o, *parsed, batches_text)) return usage(options, *why);
    const Channel channel = o.channel == "web" ? Channel::web : Channel::staff;

    Report report;
    report.command_line = quoted_command_line(argc, argv);
    std::cout << "slotmatch_wire_bench\ncommand: " << report.command_line << '\n';
    report.load_at_start = load_average();
    std::cout << "machine: nproc " << nproc() << ", " << cpu_model() << ", " << kernel()
              << ", load average " << report.load_at_start << '\n';

    // The server: ours (--config) or one that runs (--server).
    process::ServerProcess server;
    report.endpoint = o.server;
    if (!o.config.empty()) {
        if (o.slotmatchd.empty()) o.slotmatchd = slotmatchd_beside_this_program();
        if (::access(o.slotmatchd.c_str(), X_OK) != 0) {
            return usage(options, "cannot run " + o.slotmatchd + " (give --slotmatchd PATH)");
        }
        if (!start_server(o, server, report.server_command)) return 1;
        report.endpoint = server.endpoint();
    }

    client::Connection connection(report.endpoint);
    Pools pools;
    if (!prepare_work(connection, o, channel, pools, report)) return 1;
    run_phases(connection, o, o.config.empty() ? -1 : server.pid(), pools, report);

    print_figures(report.figures);
    const Tally all = print_outcomes(report, pools);
    print_server_stats(report.before, report.after);
    int rc = measured_successful_work(all) ? 0 : 1;
    if (!o.config.empty() && !stop_server(server)) rc = 1;
    if (!o.json_path.empty() && !write_json(o.json_path, report_json(report, o, pools))) return 1;
    return rc;
}

}  // namespace

int main(int argc, char** argv) {
    // The open-loop phase sleeps for tens of microseconds; the kernel's default timer slack
    // (50 µs) would stretch every such sleep.
    ::prctl(PR_SET_TIMERSLACK, 1000UL);
    try {
        return bench_main(argc, argv);
    } catch (const std::exception& e) {  // ZeroMQ (a bad endpoint), the file system, ...
        std::cerr << "slotmatch_wire_bench: " << e.what() << '\n';
        return 1;
    }
}
