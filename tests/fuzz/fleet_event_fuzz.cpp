// libFuzzer target: the fleet's replicated-log event (protocol/fleet_event.hpp). Invariants:
// decode never crashes and respects the named limits; an event that decodes re-encodes to
// exactly the same bytes and decodes again to an equal event.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

#include "protocol/fleet_event.hpp"

using namespace strop::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto e = decode_fleet_event(in);
  if (!e.ok()) return 0;
  if (e->origin.empty() || e->origin.size() > kMaxFleetOrigin) std::abort();
  if (const auto* v = std::get_if<FleetVote>(&e->write)) {
    if (v->sigs.size() > kMaxFleetEventSigs || v->reporter.size() > kMaxFleetReporterName)
      std::abort();
  }
  auto again = encode_fleet_event(*e);
  if (!again.ok() || *again != in) std::abort();
  auto back = decode_fleet_event(*again);
  if (!back.ok() || !(*back == *e)) std::abort();
  return 0;
}
