// A server program as a child process, for the tests and benchmarks that need a real one
// (slotmatchd for the wire benchmark and the end-to-end tests, slotmatch-journal for the
// journal's): started with `--listen tcp://127.0.0.1:*` among its arguments it takes a free
// port, and its endpoint is read from the line it prints ("slotmatchd: listening on ENDPOINT",
// or the mark given; stdout and stderr go to a log file). It is stopped with SIGTERM
// (SIGKILL after a bounded wait), and it dies with its parent (PR_SET_PDEATHSIG).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace slotmatch::process {

class ServerProcess {
  public:
    ServerProcess() = default;
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;
    // Stops the server; its log goes too when it stopped cleanly (else it is kept to read).
    ~ServerProcess();

    // Starts `binary args...` and waits up to timeout_s for its endpoint; false with the reason
    // (and the server's output) in `why`.
    bool start(const std::string& binary, std::vector<std::string> args, double timeout_s,
               std::string& why, const std::string& listening_mark = "slotmatchd: listening on ");

    const std::string& endpoint() const { return endpoint_; }
    std::string output() const;  // what it printed so far
    bool alive();
    // SIGTERM, then SIGKILL after 10 s; the wait status (WIFEXITED...).
    int stop();
    bool killed() const { return killed_; }
    pid_t pid() const { return pid_; }
    const std::string& log() const { return log_; }
    void remove_log();

  private:
    pid_t pid_ = -1;
    int status_ = 0;
    bool killed_ = false;
    std::string log_;
    std::string endpoint_;
};

}  // namespace slotmatch::process
