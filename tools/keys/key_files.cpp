#include "key_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace slotmatch::keys {

bool is_key_text(std::string_view text) {
    if (text.size() != key_text_chars) return false;
    const std::string z(text);  // zmq_z85_decode reads a NUL-terminated string
    KeyBytes bytes{};
    return zmq_z85_decode(bytes.data(), z.c_str()) != nullptr;
}

KeyBytes key_bytes_of(std::string_view text) {
    const std::string z(text);
    KeyBytes bytes{};
    zmq_z85_decode(bytes.data(), z.c_str());
    return bytes;
}

std::string key_text_of(const std::uint8_t* bytes) {
    char text[key_text_chars + 1];
    zmq_z85_encode(text, bytes, key_bytes);
    return std::string(text, key_text_chars);
}

std::optional<KeyPair> new_key_pair() {
    char pub[key_text_chars + 1], secret[key_text_chars + 1];
    if (zmq_curve_keypair(pub, secret) != 0) return std::nullopt;
    return KeyPair{pub, secret};
}

namespace {

// Writes `text` and a newline to a file it creates with `mode`. Never an existing file, nor a
// symbolic link (O_EXCL): a key is not replaced by accident, nor written where a link points.
bool write_text(const std::filesystem::path& path, const std::string& text, mode_t mode,
                std::string& why) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        why = path.string() + (errno == EEXIST
                                   ? " already exists; keygen never replaces a key (remove "
                                     "both files of the pair first to make a new one)"
                                   : ": " + std::string(std::strerror(errno)));
        return false;
    }
    const std::string line = text + '\n';
    // The umask may have narrowed `mode` (never widened it); 0644 for the public key is meant.
    const bool ok = ::fchmod(fd, mode) == 0 &&
                    ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                    ::fsync(fd) == 0;
    if (!ok) why = path.string() + ": " + std::strerror(errno);
    ::close(fd);
    if (!ok) ::unlink(path.c_str());
    return ok;
}

}  // namespace

bool write_key_pair(const std::string& dir, const std::string& name, const KeyPair& pair,
                    std::string& why) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    const std::filesystem::path base(dir);
    if (!ec && write_text(base / (name + ".key"), pair.secret_text, 0600, why)) {
        if (write_text(base / (name + ".pub"), pair.public_text, 0644, why)) return true;
        ::unlink((base / (name + ".key")).c_str());  // no half a pair left behind
    }
    why = "cannot write the key pair into " + dir + ": " + (ec ? ec.message() : why);
    return false;
}

std::optional<std::string> read_key_file(const std::string& path, std::string& why) {
    std::ifstream in(path);
    if (!in) {
        why = "cannot read " + path + ": " + std::strerror(errno);
        return std::nullopt;
    }
    std::string line;
    std::getline(in, line);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!is_key_text(line)) {
        why = path + " does not hold a CurveZMQ key (40 Z85 characters, as slotmatch keygen " +
              "writes them)";
        return std::nullopt;
    }
    return line;
}

std::optional<KeyPair> read_key_pair(const std::string& prefix, std::string& why) {
    const auto secret = read_key_file(prefix + ".key", why);
    if (!secret) return std::nullopt;
    const auto pub = read_key_file(prefix + ".pub", why);
    if (!pub) return std::nullopt;
    char derived[key_text_chars + 1];
    if (zmq_curve_public(derived, secret->c_str()) != 0 || *pub != derived) {
        why = prefix + ".pub is not the public key of " + prefix + ".key";
        return std::nullopt;
    }
    return KeyPair{*pub, *secret};
}

}  // namespace slotmatch::keys
