// main.cpp -- Catch2's main for the edge tests.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
