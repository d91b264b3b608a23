// The one include of Catch2 for the unit tests. Debian 12 ships Catch2 2
// (one header), Debian 13 and later Catch2 3 (split headers, a library with
// the main); tests/CMakeLists.txt sets OFFROOT_CATCH2_MAJOR from the version
// it found. The tests use only what both have in common: the test and
// assertion macros, INFO/CAPTURE/WARN/FAIL and the default stringification.
#pragma once

#if OFFROOT_CATCH2_MAJOR >= 3
#include <catch2/catch_test_macros.hpp>
#else
#include <catch2/catch.hpp>
#endif
