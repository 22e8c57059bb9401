// libFuzzer target: the fleet's replicated-log event and member beat (protocol/fleet_event.hpp).
// Invariants: decode never crashes and respects the named limits; an event or beat that
// decodes re-encodes to exactly the same bytes, and an event decodes again to an equal event.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

#include "protocol/fleet_event.hpp"

using namespace strop::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // The member beat shares the fleet's subject space: whatever decodes re-encodes exactly.
  if (auto b = decode_fleet_beat(in); b.ok()) {
    if (b->origin.empty() || b->origin.size() > kMaxFleetOrigin) std::abort();
    auto again = encode_fleet_beat(*b);
    if (!again.ok() || *again != in) std::abort();
  }
  auto e = decode_fleet_event(in);
  if (!e.ok()) return 0;
  if (e->origin.empty() || e->origin.size() > kMaxFleetOrigin) std::abort();
  if (const auto* v = std::get_if<FleetVote>(&e->write)) {
    if (v->sigs.size() > kMaxFleetEventSigs || v->reporter.size() > kMaxFleetReporterName)
      std::abort();
  }
  if (const auto* b = std::get_if<FleetPeerBatch>(&e->write)) {
    if (b->entries.size() > kMaxFleetPeerEntries) std::abort();
    std::uint64_t last = b->after;
    for (const auto& x : b->entries) {
      if (x.seq <= last || feed_entry_problem(x) != nullptr) std::abort();
      last = x.seq;
    }
    if (b->cursor != last) std::abort();
  }
  auto again = encode_fleet_event(*e);
  if (!again.ok() || *again != in) std::abort();
  auto back = decode_fleet_event(*again);
  if (!back.ok() || !(*back == *e)) std::abort();
  return 0;
}
