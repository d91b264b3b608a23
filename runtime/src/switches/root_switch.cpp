#include "switches/root_switch.hpp"

#include "base/files.hpp"
#include "base/text.hpp"

namespace offroot {

// Each lives in its own file.
const RootSwitcher& move_switcher();
const RootSwitcher& pivot_switcher();
const RootSwitcher& tmpfs_switcher();

std::string to_string(RootSwitch root_switch) {
    switch (root_switch) {
        case RootSwitch::move: return "move";
        case RootSwitch::pivot: return "pivot";
        case RootSwitch::tmpfs: return "tmpfs";
    }
    return "move";
}

RootSwitch parse_root_switch(const std::string& record_text) {
    std::string_view rest = record_text;
    auto word = next_field(rest, " \t\n");
    if (word == "pivot") return RootSwitch::pivot;
    if (word == "tmpfs") return RootSwitch::tmpfs;
    return RootSwitch::move;
}

RootSwitch read_root_switch(const std::string& record_path) {
    auto text = read_file(record_path);
    return text ? parse_root_switch(*text) : RootSwitch::move;
}

const RootSwitcher& switcher_for(RootSwitch root_switch) {
    switch (root_switch) {
        case RootSwitch::move: return move_switcher();
        case RootSwitch::pivot: return pivot_switcher();
        case RootSwitch::tmpfs: return tmpfs_switcher();
    }
    return move_switcher();
}

}  // namespace offroot
