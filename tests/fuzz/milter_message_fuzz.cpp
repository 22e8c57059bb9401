// libFuzzer target for strop-milter's buffered message path, as the libmilter callbacks
// drive it (agent/milter/src/milter_glue.cpp): header fields (MessageBuffer::append_header),
// the end of the headers, body chunks, then, at end of message, Pipeline::run over the
// buffered view: MIME parse, signatures, a fake node lookup whose verdict depends on the
// signatures, a fixed rule set, the policy and the header edits.
//
// The input drives the buffer's limits too (memory per message, shared budget, maximum
// size), so messages spill to a file and are truncated at random points. Besides "no crash,
// no UB, no leak" it checks:
//  - the buffer against an oracle fed the same calls that never spills nor truncates: the
//    stored bytes are its prefix, at every intermediate view() and at the end;
//  - seen(), size() and truncated() agree with the limit;
//  - no header edit and no log line carries CR, LF or NUL (no header or log injection).
#include <fuzzer/FuzzedDataProvider.h>
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "milter/buffer.hpp"
#include "milter/pipeline.hpp"

namespace milter = strop::milter;

namespace {

constexpr std::string_view kRules = R"(header SUBJ_FREE Subject =~ /free\s+money/i
header NO_DATE Date !~ /./
body BODY_PILLS /cheap pills/i
rawbody RAW_FONT /<font\b/i
uri URI_SHORT m{^https?://bit\.ly/}
meta COMBO SUBJ_FREE && (BODY_PILLS || URI_SHORT)
score SUBJ_FREE 2.5
score BODY_PILLS 3
score COMBO 4
score STROP_NODE 8 1 1 1
)";

// A node lookup whose answer depends on what the message's signatures are.
struct FakeLookup : milter::SignatureLookup {
  strop::Result<milter::LookupVerdict> check(const strop::sigs::SignatureSet& set,
                                             const milter::Deadline&) override {
    milter::LookupVerdict v;
    if (set.sigs.empty()) return v;
    const std::string first = set.sigs.front().text();
    const unsigned char pick = static_cast<unsigned char>(first.back());
    if (pick % 7 == 0) return strop::make_error(strop::Errc::kUnavailable, "fake node down");
    v.spam = pick % 2 == 0;
    v.confidence = v.spam ? 90 : 0;
    if (v.spam) v.matches.push_back(first);
    return v;
  }
  strop::Result<void> report(const strop::sigs::SignatureSet&, const milter::Deadline&) override {
    return {};
  }
};

struct Fixture {
  std::string spool;
  FakeLookup lookup;
  milter::Metrics metrics;
  std::unique_ptr<milter::Pipeline> pipeline;

  Fixture() {
    char tmpl[] = "/tmp/strop-milter-fuzz.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) std::abort();
    spool = tmpl;
    auto rules = milter::parse_rules(kRules);
    if (!rules) std::abort();
    milter::PipelineOptions o;
    o.headers.scanned_by = "strop-milter fuzz";
    o.quarantine_method = milter::QuarantineMethod::kHold;  // never writes files
    o.policy.tag_threshold = 3;
    pipeline = std::make_unique<milter::Pipeline>(o, std::move(*rules), nullptr, &lookup, nullptr,
                                                  &metrics);
  }
};

bool has_line_break(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

// Appends to both buffers; the oracle is never limited, so the buffer holds its prefix.
void both(milter::MessageBuffer* b, std::string* oracle, std::string_view bytes) {
  if (!b->append(bytes)) std::abort();  // the spool is writable: no error is expected
  oracle->append(bytes);
}

void check_prefix(milter::MessageBuffer* b, const std::string& oracle, std::size_t max) {
  if (b->seen() != oracle.size()) std::abort();
  if (b->size() != std::min(oracle.size(), max)) std::abort();
  if (b->truncated() != (oracle.size() > max)) std::abort();
  auto v = b->view();
  if (!v) std::abort();
  if (*v != std::string_view(oracle).substr(0, b->size())) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Fixture fx;
  FuzzedDataProvider in(data, size);
  milter::BufferOptions o;
  o.spool_dir = fx.spool;
  o.memory_per_message = in.ConsumeIntegralInRange<std::size_t>(0, 4096);
  o.max_message_bytes = in.ConsumeIntegralInRange<std::size_t>(1, 32768);
  milter::MemoryBudget budget(in.ConsumeIntegralInRange<std::size_t>(0, 8192));
  milter::MessageBuffer buf(o, &budget);

  // The oracle: the same calls into a buffer that never spills nor truncates.
  milter::BufferOptions big;
  big.memory_per_message = big.max_message_bytes = 1u << 20;
  milter::MemoryBudget unlimited(1u << 20);
  milter::MessageBuffer oracle_buf(big, &unlimited);
  std::string oracle;

  std::vector<milter::SeenHeader> headers;
  const int n_headers = in.ConsumeIntegralInRange(0, 24);
  for (int i = 0; i < n_headers; ++i) {
    std::string name = in.ConsumeRandomLengthString(48);
    std::string value = in.ConsumeRandomLengthString(600);
    if (!buf.append_header(name, value) || !oracle_buf.append_header(name, value)) std::abort();
    headers.push_back({std::move(name), std::move(value)});
  }
  if (!buf.end_headers() || !oracle_buf.end_headers()) std::abort();
  oracle = std::string(*oracle_buf.view());
  check_prefix(&buf, oracle, o.max_message_bytes);
  while (in.remaining_bytes() > 0) {
    both(&buf, &oracle, in.ConsumeRandomLengthString(4096));
    if (in.ConsumeBool()) check_prefix(&buf, oracle, o.max_message_bytes);
  }
  check_prefix(&buf, oracle, o.max_message_bytes);

  milter::Envelope env;
  env.queue_id = "FUZZ1";
  env.client_addr = "192.0.2.1";
  env.mail_from = "<fuzz@example.org>";
  env.rcpts = {"<u@test.local>"};
  auto view = buf.view();
  if (!view) std::abort();
  const milter::PipelineResult r = fx.pipeline->run(env, *view, headers, buf.truncated());
  for (const auto& e : r.edits) {
    if (e.name.empty() || has_line_break(e.name) || has_line_break(e.value)) std::abort();
  }
  if (has_line_break(milter::format_log_line(env, r, buf.seen()))) std::abort();
  return 0;
}
