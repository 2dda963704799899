// CurveZMQ key files, as `slotmatch keygen` writes them: DIR/NAME.key holds the secret key and
// DIR/NAME.pub the public key, each as 40 Z85 characters and a newline. A secret key file is
// created readable by its owner only.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace slotmatch::keys {

inline constexpr std::size_t key_bytes = 32;
inline constexpr std::size_t key_text_chars = 40;  // Z85 of 32 bytes

using KeyBytes = std::array<std::uint8_t, key_bytes>;

struct KeyPair {
    std::string public_text;  // Z85
    std::string secret_text;  // Z85
};

// True when `text` is 40 Z85 characters that decode to a key.
bool is_key_text(std::string_view text);
// The 32 bytes of a Z85 key (is_key_text must hold).
KeyBytes key_bytes_of(std::string_view text);
// The Z85 text of 32 key bytes.
std::string key_text_of(const std::uint8_t* bytes);

// A new pair; nothing when this libzmq has no CurveZMQ.
std::optional<KeyPair> new_key_pair();
// Writes DIR/NAME.key (mode 0600 from its creation) and DIR/NAME.pub, making DIR if needed;
// false with the reason in `why`.
bool write_key_pair(const std::string& dir, const std::string& name, const KeyPair& pair,
                    std::string& why);
// One key file's key; nothing, with the reason in `why`, when the file cannot be read or does
// not hold a key.
std::optional<std::string> read_key_file(const std::string& path, std::string& why);
// PREFIX.key and PREFIX.pub, checked to be one pair (the public key derives from the secret).
std::optional<KeyPair> read_key_pair(const std::string& prefix, std::string& why);

}  // namespace slotmatch::keys
