// The private pull reader against nlohmann-json on numbers at the edges of a double
// (docs/protocol.md "Numbers"): the two must agree on what is valid JSON for the node.
#include "json_reader.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace strop::protocol::detail {
namespace {

bool reader_accepts(const std::string& in) {
  JsonReader r(in, 64);
  return r.skip_value() && r.at_end();
}

TEST(JsonReaderNumbers, OverflowIsMalformedAsInNlohmann) {
  // Found by protocol_request_fuzz in a 5-minute run: "2E615" (beyond the largest double)
  // was accepted by the reader and refused by nlohmann-json.
  for (const std::string& bad : std::vector<std::string>{"2E615", "-2E615", "1.8e308", "1e309",
                                                         std::string("1") + std::string(400, '0'),
                                                         "[0.5,9e999]", "{\"trust\":1E400}"}) {
    EXPECT_FALSE(reader_accepts(bad)) << bad;
    EXPECT_FALSE(nlohmann::json::accept(bad)) << bad;
  }
}

TEST(JsonReaderNumbers, LargeFiniteAndUnderflowAreValid) {
  for (const std::string& good : std::vector<std::string>{
           "1e308", "1.7976931348623157e308", "-1.7976931348623157E+308", "1E-400", "0E999999999",
           "0.000e99999", "123456789012345678901234567890", "1e-99999999999", "0.0000001e310"}) {
    EXPECT_TRUE(reader_accepts(good)) << good;
    EXPECT_TRUE(nlohmann::json::accept(good)) << good;
  }
}

}  // namespace
}  // namespace strop::protocol::detail
