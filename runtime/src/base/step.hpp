// A step that changes the system, as a plan shows it: what it does and how
// it is undone when a later step fails.
#pragma once

#include <string>

namespace offroot {

struct Step {
    std::string name;
    std::string action;  // what it will do, concretely
    std::string undo;    // how it is undone when a later step fails
};

}  // namespace offroot
