// A small JSON writer for --json output: keys in the order written, strings
// escaped so that any path (spaces, newlines, bytes that are not UTF-8)
// still gives valid JSON.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace offroot {

class JsonWriter {
public:
    JsonWriter& begin_object();
    JsonWriter& end_object();
    JsonWriter& begin_array();
    JsonWriter& end_array();
    JsonWriter& key(std::string_view k);
    JsonWriter& value(std::string_view s);
    JsonWriter& value(const char* s) { return value(std::string_view(s)); }
    JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }
    JsonWriter& value(int64_t n);
    JsonWriter& value(uint64_t n);
    JsonWriter& value(int n) { return value(static_cast<int64_t>(n)); }
    JsonWriter& value(bool b);
    JsonWriter& null();

    const std::string& str() const { return out_; }

private:
    void before_value();
    std::string out_;
    // One entry per open container: has it had an element yet?
    std::vector<bool> has_element_;
    bool after_key_ = false;
};

std::string json_escape(std::string_view s);

}  // namespace offroot
