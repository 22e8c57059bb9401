// codec.cpp: JSON codecs of the native API.
//
// Request decoders for check/report/revoke (the node's hot path) use the private pull reader
// (json_reader.hpp, ~1 us per KB); everything else uses nlohmann-json, which stays private to
// this library. Encoders write compact JSON with the private JsonWriter.
#include "protocol/codec.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>

#include "json_reader.hpp"
#include "json_writer.hpp"

namespace strop::protocol {

using detail::JsonReader;
using detail::JsonWriter;
using nlohmann::json;

namespace {

// ---------------------------------------------------------------- shared helpers

Error unsupported_version(std::int64_t v) {
  return make_error(Errc::kInvalidArgument,
                    std::string(kUnsupportedVersionPrefix) + " " + std::to_string(v));
}

Error reader_error(const JsonReader& r, std::string_view body) {
  std::string msg = std::string(r.error()) + " at byte " + std::to_string(r.offset(body));
  return make_error(r.limit_hit() ? Errc::kLimitExceeded : Errc::kMalformed, std::move(msg));
}

// Maximum nesting depth of `body`, counting brackets outside strings. Cheap guard before
// handing untrusted text to a DOM parser.
bool depth_within(std::string_view body, std::size_t max_depth) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) return false;
    } else if (c == '}' || c == ']') {
      if (depth > 0) --depth;
    }
  }
  return true;
}

constexpr std::size_t kResponseMaxDepth = 16;

// Parses `body` as a JSON object and checks its "v". Never throws.
Result<json> parse_object(std::string_view body, std::size_t max_depth) {
  if (!depth_within(body, max_depth)) {
    return make_error(Errc::kLimitExceeded, "JSON nesting too deep");
  }
  json j = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return make_error(Errc::kMalformed, "not valid JSON");
  if (!j.is_object()) return make_error(Errc::kMalformed, "expected a JSON object");
  auto v = j.find("v");
  if (v != j.end()) {
    if (!v->is_number_integer()) return make_error(Errc::kMalformed, "\"v\" is not an integer");
    auto ver = v->get<std::int64_t>();
    if (ver != kApiVersion) return unsupported_version(ver);
  }
  return j;
}

// Field accessors: absent is fine unless `required`; a present field of the wrong type is
// malformed.
Result<void> get_string(const json& j, const char* key, std::string* out, bool required) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return make_error(Errc::kMalformed, std::string("missing \"") + key + "\"");
    return {};
  }
  if (!it->is_string())
    return make_error(Errc::kMalformed, std::string("\"") + key + "\" is not a string");
  *out = it->get_ref<const std::string&>();
  return {};
}

template <class Int>
Result<void> get_uint(const json& j, const char* key, Int* out, bool required) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return make_error(Errc::kMalformed, std::string("missing \"") + key + "\"");
    return {};
  }
  if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<std::int64_t>() >= 0)) {
    return make_error(Errc::kMalformed,
                      std::string("\"") + key + "\" is not a non-negative integer");
  }
  auto v = it->get<std::uint64_t>();
  if (v > static_cast<std::uint64_t>(std::numeric_limits<Int>::max())) {
    return make_error(Errc::kMalformed, std::string("\"") + key + "\" out of range");
  }
  *out = static_cast<Int>(v);
  return {};
}

Result<void> get_bool(const json& j, const char* key, bool* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  if (!it->is_boolean())
    return make_error(Errc::kMalformed, std::string("\"") + key + "\" is not a boolean");
  *out = it->get<bool>();
  return {};
}

Result<void> get_double(const json& j, const char* key, double* out, bool required) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return make_error(Errc::kMalformed, std::string("missing \"") + key + "\"");
    return {};
  }
  if (!it->is_number())
    return make_error(Errc::kMalformed, std::string("\"") + key + "\" is not a number");
  *out = it->get<double>();
  return {};
}

void write_header(JsonWriter& w) {
  w.begin_object();
  w.key("v");
  w.integer(kApiVersion);
}

void write_sigs(JsonWriter& w, const std::vector<sigs::Signature>& list) {
  w.key("sigs");
  w.begin_array();
  std::string text;
  for (const auto& s : list) {
    text.assign(sigs::engine_name(s.engine));
    text += ':';
    text += s.value;
    w.string(text);
  }
  w.end_array();
}

// {"v":1,"messages":[{"id":...,"sigs":[...]},...]}: the body of check, report and revoke.
std::string encode_messages(const std::vector<MessageSigs>& messages) {
  std::string out;
  out.reserve(64 + messages.size() * 400);
  JsonWriter w(&out);
  write_header(w);
  w.key("messages");
  w.begin_array();
  for (const auto& m : messages) {
    w.begin_object();
    if (!m.id.empty()) w.field_string("id", m.id);
    write_sigs(w, m.sigs);
    w.end_object();
  }
  w.end_array();
  w.end_object();
  return out;
}

// ---------------------------------------------------------------- fast request decoding

struct SigsDecoder {
  JsonReader& r;
  const Limits& limits;
  bool require_sigs;
  Error semantic;  // first non-syntax error (bad signature, empty message)
  bool has_semantic = false;
  std::string scratch;

  bool bad(Errc code, std::string msg) {
    if (!has_semantic) {
      semantic = make_error(code, std::move(msg));
      has_semantic = true;
    }
    return r.fail("invalid value");
  }

  bool message(std::size_t index, MessageSigs* out) {
    if (!r.begin_object()) return false;
    std::string_view key;
    std::string key_scratch;
    bool have_sigs = false;
    while (r.next_key(&key, &key_scratch)) {
      if (key == "id") {
        std::string_view id;
        if (!r.read_string(&id, &scratch, limits.max_message_id_length)) return false;
        out->id.assign(id);
      } else if (key == "sigs") {
        have_sigs = true;
        out->sigs.clear();
        if (!r.begin_array()) return false;
        while (r.next_element()) {
          if (out->sigs.size() >= limits.max_sigs_per_message) {
            return r.fail_limit("too many signatures in one message");
          }
          std::string_view text;
          if (!r.read_string(&text, &scratch, limits.max_signature_length)) return false;
          auto sig = sigs::parse_signature(text);
          if (!sig) {
            return bad(Errc::kInvalidArgument, "message " + std::to_string(index) + " signature " +
                                                   std::to_string(out->sigs.size()) + ": " +
                                                   sig.error().message);
          }
          out->sigs.push_back(std::move(*sig));
        }
        if (!r.ok()) return false;
      } else if (!r.skip_value()) {
        return false;
      }
    }
    if (!r.ok()) return false;
    if (require_sigs && (!have_sigs || out->sigs.empty())) {
      return bad(Errc::kInvalidArgument, "message " + std::to_string(index) + " has no signatures");
    }
    return true;
  }

  bool messages(std::vector<MessageSigs>* out) {
    out->clear();
    if (!r.begin_array()) return false;
    while (r.next_element()) {
      if (out->size() >= limits.max_messages) return r.fail_limit("too many messages");
      out->emplace_back();
      if (!message(out->size() - 1, &out->back())) return false;
    }
    return r.ok();
  }
};

Result<std::vector<MessageSigs>> decode_messages_request(std::string_view body,
                                                         const Limits& limits, bool require_sigs) {
  if (body.size() > limits.max_body_bytes) {
    return make_error(Errc::kLimitExceeded,
                      "body larger than " + std::to_string(limits.max_body_bytes) + " bytes");
  }
  JsonReader r(body, limits.max_json_depth);
  SigsDecoder d{r, limits, require_sigs, {}, false, {}};
  std::vector<MessageSigs> messages;
  bool have_messages = false;
  std::int64_t version = kApiVersion;
  std::string_view key;
  std::string key_scratch;
  if (r.begin_object()) {
    while (r.next_key(&key, &key_scratch)) {
      if (key == "v") {
        if (!r.read_int(&version, std::numeric_limits<std::int64_t>::min(),
                        std::numeric_limits<std::int64_t>::max())) {
          break;
        }
      } else if (key == "messages") {
        have_messages = true;
        if (!d.messages(&messages)) break;
      } else if (!r.skip_value()) {
        break;
      }
    }
  }
  if (d.has_semantic) return d.semantic;
  if (!r.ok()) return reader_error(r, body);
  if (!r.at_end()) return make_error(Errc::kMalformed, "trailing characters after the JSON object");
  if (version != kApiVersion) return unsupported_version(version);
  if (!have_messages) return make_error(Errc::kMalformed, "missing \"messages\"");
  if (messages.empty()) return make_error(Errc::kInvalidArgument, "\"messages\" is empty");
  return messages;
}

}  // namespace

// ---------------------------------------------------------------- requests

std::string encode(const CheckRequest& req) { return encode_messages(req.messages); }

Result<CheckRequest> decode_check_request(std::string_view body, const Limits& limits) {
  auto m = decode_messages_request(body, limits, /*require_sigs=*/false);
  if (!m) return m.error();
  return CheckRequest{std::move(*m)};
}

std::string encode(const VoteRequest& req) { return encode_messages(req.messages); }

Result<VoteRequest> decode_vote_request(std::string_view body, const Limits& limits) {
  auto m = decode_messages_request(body, limits, /*require_sigs=*/true);
  if (!m) return m.error();
  return VoteRequest{std::move(*m)};
}

std::string encode(const RegisterRequest& req) {
  std::string out;
  JsonWriter w(&out);
  write_header(w);
  w.key("name");
  w.string(req.name);
  if (req.trust) {
    w.key("trust");
    w.number(*req.trust);
  }
  if (req.admin) {
    w.key("admin");
    w.boolean(true);
  }
  w.end_object();
  return out;
}

Result<RegisterRequest> decode_register_request(std::string_view body, const Limits& limits) {
  if (body.size() > limits.max_body_bytes) {
    return make_error(Errc::kLimitExceeded,
                      "body larger than " + std::to_string(limits.max_body_bytes) + " bytes");
  }
  auto j = parse_object(body, limits.max_json_depth);
  if (!j) return j.error();
  RegisterRequest req;
  STROP_TRY(get_string(*j, "name", &req.name, true));
  if (!valid_reporter_name(req.name)) {
    return make_error(
        Errc::kInvalidArgument,
        "reporter name must be 1..64 characters of [A-Za-z0-9._@+-], not starting with '.' or '-'");
  }
  double trust = -1;
  auto it = j->find("trust");
  if (it != j->end() && !it->is_null()) {
    STROP_TRY(get_double(*j, "trust", &trust, true));
    if (!(trust >= 0.0 && trust <= 1.0))
      return make_error(Errc::kInvalidArgument, "\"trust\" must be within 0..1");
    req.trust = trust;
  }
  STROP_TRY(get_bool(*j, "admin", &req.admin));
  return req;
}

// ---------------------------------------------------------------- responses

namespace {

// Runs `read` over `body` parsed as a response object; nlohmann's exceptions become kMalformed.
template <class T, class Read>
Result<T> decode_response(std::string_view body, Read read) {
  try {
    auto j = parse_object(body, kResponseMaxDepth);
    if (!j) return j.error();
    return read(*j);
  } catch (const json::exception& e) {
    return make_error(Errc::kMalformed, e.what());
  }
}

// {"v":1,"results":[{"id":...,<fields>},...]}: one result per request message, the id only
// when the message had one.
template <class Item, class WriteFields>
std::string encode_results(const std::vector<Item>& results, std::size_t bytes_per_item,
                           WriteFields write_fields) {
  std::string out;
  out.reserve(64 + results.size() * bytes_per_item);
  JsonWriter w(&out);
  write_header(w);
  w.key("results");
  w.begin_array();
  for (const auto& item : results) {
    w.begin_object();
    if (!item.id.empty()) w.field_string("id", item.id);
    write_fields(w, item);
    w.end_object();
  }
  w.end_array();
  w.end_object();
  return out;
}

// The "results" array of a response, each element read by `read_item` after its "id".
template <class Item, class ReadItem>
Result<std::vector<Item>> decode_results(const json& j, ReadItem read_item) {
  auto results = j.find("results");
  if (results == j.end() || !results->is_array()) {
    return make_error(Errc::kMalformed, "missing \"results\"");
  }
  std::vector<Item> out;
  out.reserve(results->size());
  for (const auto& r : *results) {
    if (!r.is_object()) return make_error(Errc::kMalformed, "result is not an object");
    Item item;
    STROP_TRY(get_string(r, "id", &item.id, false));
    STROP_TRY(read_item(r, item));
    out.push_back(std::move(item));
  }
  return out;
}

Result<void> read_match(const json& x, std::vector<Match>* out) {
  if (!x.is_object()) return make_error(Errc::kMalformed, "match is not an object");
  Match m;
  std::string engine;
  STROP_TRY(get_string(x, "engine", &engine, true));
  auto e = sigs::engine_from_name(engine);
  if (!e) return {};  // an engine this client does not know: ignore the match
  m.engine = *e;
  STROP_TRY(get_string(x, "id", &m.id, true));
  STROP_TRY(get_double(x, "similarity", &m.similarity, false));
  STROP_TRY(get_uint(x, "reports", &m.reports, false));
  STROP_TRY(get_uint(x, "revokes", &m.revokes, false));
  STROP_TRY(get_uint(x, "confidence", &m.confidence, false));
  out->push_back(std::move(m));
  return {};
}

Result<void> read_verdict(const json& r, MessageVerdict& mv) {
  std::string verdict;
  STROP_TRY(get_string(r, "verdict", &verdict, true));
  if (verdict == "spam") {
    mv.verdict = Verdict::kSpam;
  } else if (verdict == "not_spam") {
    mv.verdict = Verdict::kNotSpam;
  } else {
    return make_error(Errc::kMalformed, "unknown verdict \"" + verdict + "\"");
  }
  STROP_TRY(get_uint(r, "confidence", &mv.confidence, true));
  mv.confidence = std::min(mv.confidence, 100);
  auto matches = r.find("matches");
  if (matches == r.end() || matches->is_null()) return {};
  if (!matches->is_array()) return make_error(Errc::kMalformed, "\"matches\" is not an array");
  for (const auto& x : *matches) STROP_TRY(read_match(x, &mv.matches));
  return {};
}

}  // namespace

std::string encode(const CheckResponse& resp) {
  return encode_results(resp.results, 64, [](JsonWriter& w, const MessageVerdict& m) {
    w.field_string("verdict", verdict_name(m.verdict));
    w.field_int("confidence", m.confidence);
    w.key("matches");
    w.begin_array();
    for (const auto& x : m.matches) {
      w.begin_object();
      w.field_string("engine", sigs::engine_name(x.engine));
      w.field_string("id", x.id);
      w.field_number("similarity", x.similarity);
      w.field_uint("reports", x.reports);
      w.field_uint("revokes", x.revokes);
      w.field_int("confidence", x.confidence);
      w.end_object();
    }
    w.end_array();
  });
}

std::string encode_verdict_line(std::string_view name, const MessageVerdict& v) {
  nlohmann::ordered_json j;  // fields in a fixed, readable order
  j["name"] = std::string(name);
  j["verdict"] = std::string(verdict_name(v.verdict));
  j["spam"] = v.verdict == Verdict::kSpam;
  j["confidence"] = v.confidence;
  auto matches = nlohmann::ordered_json::array();
  for (const auto& m : v.matches) {
    matches.push_back({{"engine", std::string(sigs::engine_name(m.engine))},
                       {"id", m.id},
                       {"similarity", m.similarity},
                       {"reports", m.reports},
                       {"revokes", m.revokes},
                       {"confidence", m.confidence}});
  }
  j["matches"] = std::move(matches);
  return j.dump();
}

Result<CheckResponse> decode_check_response(std::string_view body) {
  return decode_response<CheckResponse>(body, [](const json& j) -> Result<CheckResponse> {
    auto results = decode_results<MessageVerdict>(j, read_verdict);
    if (!results) return results.error();
    return CheckResponse{std::move(*results)};
  });
}

std::string encode(const VoteResponse& resp) {
  return encode_results(resp.results, 96, [](JsonWriter& w, const MessageVoteResult& m) {
    w.field_uint("recorded", m.recorded);
    w.field_uint("unchanged", m.unchanged);
    w.field_uint("changed", m.changed);
    w.field_uint("withdrawn", m.withdrawn);
    w.field_uint("unknown", m.unknown);
    w.field_bool("listable", m.listable);
  });
}

Result<VoteResponse> decode_vote_response(std::string_view body) {
  return decode_response<VoteResponse>(body, [](const json& j) -> Result<VoteResponse> {
    auto results = decode_results<MessageVoteResult>(
        j, [](const json& r, MessageVoteResult& m) -> Result<void> {
          STROP_TRY(get_uint(r, "recorded", &m.recorded, false));
          STROP_TRY(get_uint(r, "unchanged", &m.unchanged, false));
          STROP_TRY(get_uint(r, "changed", &m.changed, false));
          STROP_TRY(get_uint(r, "withdrawn", &m.withdrawn, false));
          STROP_TRY(get_uint(r, "unknown", &m.unknown, false));
          return get_bool(r, "listable", &m.listable);
        });
    if (!results) return results.error();
    return VoteResponse{std::move(*results)};
  });
}

std::string encode(const RegisterResponse& resp) {
  std::string out;
  JsonWriter w(&out);
  write_header(w);
  w.field_string("reporter", resp.reporter);
  w.field_string("secret", resp.secret);
  w.field_number("trust", resp.trust);
  w.end_object();
  return out;
}

Result<RegisterResponse> decode_register_response(std::string_view body) {
  return decode_response<RegisterResponse>(body, [](const json& j) -> Result<RegisterResponse> {
    RegisterResponse resp;
    STROP_TRY(get_string(j, "reporter", &resp.reporter, true));
    STROP_TRY(get_string(j, "secret", &resp.secret, true));
    STROP_TRY(get_double(j, "trust", &resp.trust, false));
    return resp;
  });
}

std::string encode(const StateResponse& resp) {
  std::string out;
  JsonWriter w(&out);
  write_header(w);
  w.field_string("node_version", resp.node_version);
  w.field_int("api_version", resp.api_version);
  w.key("engines");
  w.begin_array();
  for (const auto& e : resp.engines) w.string(e);
  w.end_array();
  w.field_int("threshold", resp.threshold);
  w.key("limits");
  w.begin_object();
  w.field_uint("max_body_bytes", resp.limits.max_body_bytes);
  w.field_uint("max_messages", resp.limits.max_messages);
  w.field_uint("max_sigs_per_message", resp.limits.max_sigs_per_message);
  w.field_uint("max_signature_length", resp.limits.max_signature_length);
  w.field_uint("max_message_id_length", resp.limits.max_message_id_length);
  w.field_uint("max_json_depth", resp.limits.max_json_depth);
  w.end_object();
  w.field_bool("anonymous_check", resp.anonymous_check);
  w.field_bool("open_registration", resp.open_registration);
  w.field_uint("signatures", resp.signatures);
  w.field_uint("reporters", resp.reporters);
  w.end_object();
  return out;
}

Result<StateResponse> decode_state_response(std::string_view body) {
  return decode_response<StateResponse>(body, [](const json& j) -> Result<StateResponse> {
    StateResponse s;
    STROP_TRY(get_string(j, "node_version", &s.node_version, false));
    STROP_TRY(get_uint(j, "api_version", &s.api_version, false));
    auto engines = j.find("engines");
    if (engines != j.end() && engines->is_array()) {
      for (const auto& e : *engines) {
        if (e.is_string()) s.engines.push_back(e.get<std::string>());
      }
    }
    STROP_TRY(get_uint(j, "threshold", &s.threshold, false));
    auto lim = j.find("limits");
    if (lim != j.end() && lim->is_object()) {
      auto& l = s.limits;
      STROP_TRY(get_uint(*lim, "max_body_bytes", &l.max_body_bytes, false));
      STROP_TRY(get_uint(*lim, "max_messages", &l.max_messages, false));
      STROP_TRY(get_uint(*lim, "max_sigs_per_message", &l.max_sigs_per_message, false));
      STROP_TRY(get_uint(*lim, "max_signature_length", &l.max_signature_length, false));
      STROP_TRY(get_uint(*lim, "max_message_id_length", &l.max_message_id_length, false));
      STROP_TRY(get_uint(*lim, "max_json_depth", &l.max_json_depth, false));
    }
    STROP_TRY(get_bool(j, "anonymous_check", &s.anonymous_check));
    STROP_TRY(get_bool(j, "open_registration", &s.open_registration));
    STROP_TRY(get_uint(j, "signatures", &s.signatures, false));
    STROP_TRY(get_uint(j, "reporters", &s.reporters, false));
    return s;
  });
}

std::string encode(const ErrorBody& err) {
  std::string out;
  JsonWriter w(&out);
  write_header(w);
  w.key("error");
  w.begin_object();
  w.field_string("code", api_errc_name(err.code));
  w.field_string("message", err.message);
  w.end_object();
  w.end_object();
  return out;
}

Result<ErrorBody> decode_error_body(std::string_view body) {
  return decode_response<ErrorBody>(body, [](const json& j) -> Result<ErrorBody> {
    auto e = j.find("error");
    if (e == j.end() || !e->is_object()) return make_error(Errc::kMalformed, "missing \"error\"");
    std::string code;
    ErrorBody out;
    STROP_TRY(get_string(*e, "code", &code, true));
    STROP_TRY(get_string(*e, "message", &out.message, false));
    auto c = api_errc_from_name(code);
    if (c) {
      out.code = *c;
    } else {
      out.code = ApiErrc::kInternal;
      out.message = code + ": " + out.message;
    }
    return out;
  });
}

std::string encode(const Identity& id) {
  std::string out;
  JsonWriter w(&out);
  write_header(w);
  w.field_string("node", id.node);
  w.field_string("reporter", id.reporter);
  w.field_string("secret", id.secret);
  w.end_object();
  out.push_back('\n');
  return out;
}

Result<Identity> decode_identity(std::string_view text) {
  if (text.size() > (64u << 10)) {
    return make_error(Errc::kLimitExceeded, "identity file larger than 64 KiB");
  }
  return decode_response<Identity>(text, [](const json& j) -> Result<Identity> {
    Identity id;
    STROP_TRY(get_string(j, "node", &id.node, true));
    STROP_TRY(get_string(j, "reporter", &id.reporter, true));
    STROP_TRY(get_string(j, "secret", &id.secret, true));
    if (!valid_reporter_name(id.reporter)) {
      return make_error(Errc::kInvalidArgument, "bad reporter name");
    }
    if (id.secret.empty()) return make_error(Errc::kInvalidArgument, "empty secret");
    return id;
  });
}

ApiErrc api_errc_for(const Error& e) {
  if (e.code == Errc::kInvalidArgument && e.message.rfind(kUnsupportedVersionPrefix, 0) == 0) {
    return ApiErrc::kUnsupportedVersion;
  }
  return api_errc_from(e.code);
}

}  // namespace strop::protocol
