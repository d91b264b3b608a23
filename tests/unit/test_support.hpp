// What the unit tests share: scratch directories, files and links written
// into them, and files read back whole. Failures are REQUIRE failures.
#pragma once

#include "catch.hpp"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#include "base/files.hpp"

namespace offroot::test {

// A fresh directory "<prefix>-XXXXXX" in the temporary directory, removed
// with everything in it when the test leaves its scope (even by a throw).
class TempDir {
public:
    explicit TempDir(const std::string& prefix = "offroot-test") {
        std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }
    // dir / "a/b" == dir.path() + "/a/b"
    std::string operator/(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

// Writes `data` to `path` (created 0644 or truncated), and its missing
// parent directories first.
inline void write_text(const std::string& path, const std::string& data) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    REQUIRE(write_file(path, data, O_CREAT | O_TRUNC, 0644).ok());
}

// Creates the symlink `link` -> `target`, and the missing parent directories
// of `link` first.
inline void make_symlink(const std::string& target, const std::string& link) {
    std::filesystem::create_directories(std::filesystem::path(link).parent_path());
    REQUIRE(::symlink(target.c_str(), link.c_str()) == 0);
}

// stat() of a path that must exist.
inline struct stat stat_of(const std::string& path) {
    auto st = stat_path(path);
    REQUIRE(st.ok());
    return *st;
}

// What a read of a missing `path` fails with.
inline std::string missing_file_message(const std::string& path) {
    return "open(\"" + path + "\"): No such file or directory (ENOENT)";
}

// The whole content of a file.
inline std::string read_text(const std::string& path) {
    auto text = read_file(path);
    REQUIRE(text.ok());
    return std::move(text).value();
}

// A captured file under tests/unit/samples: sample_text("proc/meminfo").
inline std::string sample_text(const std::string& relative) {
    return read_text(std::string(OFFROOT_SAMPLES_DIR) + "/" + relative);
}

}  // namespace offroot::test
