// The emergency sessions' writable space in RAM: /tmp and root's home in
// the emergency environment, each a tmpfs of its own capped in size
// (offroot.conf's SESSION_TMP_SIZE, SESSION_HOME_SIZE; mounted by
// hooks/offroot-functions' offroot_mount_session_space). Without a cap a
// copy into them fills rootfs (ramfs: no limit, never swapped) or the
// environment's tmpfs (where enter puts the tools). offroot check counts
// the room still free in them as RAM the DETACHED period may take.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "system/emergency.hpp"

namespace offroot {

// root's home in the environment: /root is where the real root goes.
inline constexpr const char* kSessionHome = "/var/lib/offroot";
inline constexpr const char* kSessionTmp = "/tmp";

struct SessionSpace {
    std::string path;        // in the environment: "/tmp", "/var/lib/offroot"
    bool capped = false;     // a tmpfs mount of its own
    uint64_t size_kib = 0;   // its cap
    uint64_t used_kib = 0;
    std::string fs_type;     // what it is on when not capped (ramfs, tmpfs)

    // What the sessions can still put there: RAM that DETACHED may need.
    uint64_t room_kib() const { return capped && size_kib > used_kib ? size_kib - used_kib : 0; }
};

// Both spaces, seen through the environment's door. Paths that cannot be
// read come back uncapped with an empty fs_type.
std::vector<SessionSpace> read_session_space(const EmergencyEnvironment& env);

// The room of every capped space, added up.
uint64_t session_room_kib(const std::vector<SessionSpace>& spaces);

// One line for each space without a cap of its own, for check's notes.
std::vector<std::string> uncapped_session_notes(const std::vector<SessionSpace>& spaces);

}  // namespace offroot
