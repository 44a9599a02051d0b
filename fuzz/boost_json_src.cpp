// boost_json_src.cpp -- Boost.JSON compiled into the fuzz build, so its parser is instrumented too.
//
// The fuzz targets link this instead of Debian's libboost_json: libFuzzer then sees coverage inside
// the JSON parser (and finds structure faster), and ASan checks the parser's own memory accesses.
#include <boost/json/src.hpp>
