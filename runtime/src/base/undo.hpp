// Every step that changes the system registers how to undo itself. If the
// sequence does not reach commit(), the steps are undone newest first.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "base/log.hpp"
#include "base/result.hpp"

namespace offroot {

class UndoStack {
public:
    UndoStack() = default;
    UndoStack(const UndoStack&) = delete;
    UndoStack& operator=(const UndoStack&) = delete;
    ~UndoStack() { rollback(); }

    void push(std::string description, std::function<Status()> undo) {
        steps_.emplace_back(std::move(description), std::move(undo));
    }

    // The changes are now wanted: forget how to undo them.
    void commit() { steps_.clear(); }

    // Undoes everything, newest first; a failed undo is logged and the rest
    // still run, since stopping half-way leaves the worse state.
    bool rollback() {
        bool all_ok = true;
        while (!steps_.empty()) {
            auto [description, undo] = std::move(steps_.back());
            steps_.pop_back();
            Status s = undo();
            if (!s) {
                all_ok = false;
                log_error("undo " + description + ": " + s.error().message());
            }
        }
        return all_ok;
    }

    bool empty() const { return steps_.empty(); }

private:
    std::vector<std::pair<std::string, std::function<Status()>>> steps_;
};

}  // namespace offroot
