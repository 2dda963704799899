// Temporary directories for tests, each new (mkdtemp), never a name a test run before may have left
// behind: process ids repeat, from one ctest run to the next on a fresh machine above all.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace slotmatch::testing {

// A new, empty directory under the system temp directory, named after `stem`.
inline std::filesystem::path fresh_temp_dir(const std::string& stem) {
    std::string name =
        (std::filesystem::temp_directory_path() / ("slotmatch-" + stem + "-XXXXXX")).string();
    if (::mkdtemp(name.data()) == nullptr)
        throw std::system_error(errno, std::generic_category(), "mkdtemp " + name);
    return name;
}

// This test process's own directory, made on first use and removed with what it holds when the
// process ends.
inline const std::filesystem::path& process_temp_dir() {
    struct Owned {
        std::filesystem::path path = fresh_temp_dir("tests");
        ~Owned() {
            std::error_code ignored;
            std::filesystem::remove_all(path, ignored);
        }
    };
    static const Owned dir;
    return dir.path;
}

}  // namespace slotmatch::testing
