// Catch2 2's main. Catch2 3 brings its own (Catch2::Catch2WithMain) and this
// file is not compiled there (tests/CMakeLists.txt).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
