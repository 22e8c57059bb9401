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
  if (!it->is_string()) return make_error(Errc::kMalformed, std::string("\"") + key + "\" is not a string");
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
    return make_error(Errc::kMalformed, std::string("\"") + key + "\" is not a non-negative integer");
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
  if (!it->is_boolean()) return make_error(Errc::kMalformed, std::string("\"") + key + "\" is not a boolean");
  *out = it->get<bool>();
  return {};
}

Result<void> get_double(const json& j, const char* key, double* out, bool required) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return make_error(Errc::kMalformed, std::string("missing \"") + key + "\"");
    return {};
  }
  if (!it->is_number()) return make_error(Errc::kMalformed, std::string("\"") + key + "\" is not a number");
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

void write_messages(JsonWriter& w, const std::vector<MessageSigs>& messages) {
  w.key("messages");
  w.begin_array();
  for (const auto& m : messages) {
    w.begin_object();
    if (!m.id.empty()) {
      w.key("id");
      w.string(m.id);
    }
    write_sigs(w, m.sigs);
    w.end_object();
  }
  w.end_array();
}

// ---------------------------------------------------------------- fast request decoding

struct SigsDecoder {
  JsonReader& r;
  const Limits& limits;
  bool require_sigs;
  Error semantic;          // first non-syntax error (bad signature, empty message)
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

Result<std::vector<MessageSigs>> decode_messages_request(std::string_view body, const Limits& limits,
                                                          bool require_sigs) {
  if (body.size() > limits.max_body_bytes) {
    return make_error(Errc::kLimitExceeded, "body larger than " + std::to_string(limits.max_body_bytes) + " bytes");
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

std::string encode(const CheckRequest& req) {
  std::string out;
  out.reserve(64 + req.messages.size() * 400);
  JsonWriter w(&out);
  write_header(w);
  write_messages(w, req.messages);
  w.end_object();
  return out;
}

Result<CheckRequest> decode_check_request(std::string_view body, const Limits& limits) {
  auto m = decode_messages_request(body, limits, /*require_sigs=*/false);
  if (!m) return m.error();
  return CheckRequest{std::move(*m)};
}

std::string encode(const VoteRequest& req) {
  std::string out;
  out.reserve(64 + req.messages.size() * 400);
  JsonWriter w(&out);
  write_header(w);
  write_messages(w, req.messages);
  w.end_object();
  return out;
}

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
    return make_error(Errc::kLimitExceeded, "body larger than " + std::to_string(limits.max_body_bytes) + " bytes");
  }
  auto j = parse_object(body, limits.max_json_depth);
  if (!j) return j.error();
  RegisterRequest req;
  STROP_TRY(get_string(*j, "name", &req.name, true));
  if (!valid_reporter_name(req.name)) {
    return make_error(Errc::kInvalidArgument,
                      "reporter name must be 1..64 characters of [A-Za-z0-9._@+-], not starting with '.' or '-'");
  }
  double trust = -1;
  auto it = j->find("trust");
  if (it != j->end() && !it->is_null()) {
    STROP_TRY(get_double(*j, "trust", &trust, true));
    if (!(trust >= 0.0 && trust <= 1.0)) return make_error(Errc::kInvalidArgument, "\"trust\" must be within 0..1");
    req.trust = trust;
  }
  STROP_TRY(get_bool(*j, "admin", &req.admin));
  return req;
}

// ---------------------------------------------------------------- responses

std::string encode(const CheckResponse& resp) {
  std::string out;
  out.reserve(64 + resp.results.size() * 64);
  JsonWriter w(&out);
  write_header(w);
  w.key("results");
  w.begin_array();
  for (const auto& m : resp.results) {
    w.begin_object();
    if (!m.id.empty()) {
      w.key("id");
      w.string(m.id);
    }
    w.key("verdict");
    w.string(verdict_name(m.verdict));
    w.key("confidence");
    w.integer(m.confidence);
    w.key("matches");
    w.begin_array();
    for (const auto& x : m.matches) {
      w.begin_object();
      w.key("engine");
      w.string(sigs::engine_name(x.engine));
      w.key("id");
      w.string(x.id);
      w.key("similarity");
      w.number(x.similarity);
      w.key("reports");
      w.unsigned_integer(x.reports);
      w.key("revokes");
      w.unsigned_integer(x.revokes);
      w.key("confidence");
      w.integer(x.confidence);
      w.end_object();
    }
    w.end_array();
    w.end_object();
  }
  w.end_array();
  w.end_object();
  return out;
}

Result<CheckResponse> decode_check_response(std::string_view body) {
  try {
    auto j = parse_object(body, kResponseMaxDepth);
    if (!j) return j.error();
    auto results = j->find("results");
    if (results == j->end() || !results->is_array()) return make_error(Errc::kMalformed, "missing \"results\"");
    CheckResponse resp;
    resp.results.reserve(results->size());
    for (const auto& r : *results) {
      if (!r.is_object()) return make_error(Errc::kMalformed, "result is not an object");
      MessageVerdict mv;
      STROP_TRY(get_string(r, "id", &mv.id, false));
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
      if (matches != r.end() && !matches->is_null()) {
        if (!matches->is_array()) return make_error(Errc::kMalformed, "\"matches\" is not an array");
        for (const auto& x : *matches) {
          if (!x.is_object()) return make_error(Errc::kMalformed, "match is not an object");
          Match m;
          std::string engine;
          STROP_TRY(get_string(x, "engine", &engine, true));
          auto e = sigs::engine_from_name(engine);
          if (!e) continue;  // an engine this client does not know: ignore the match
          m.engine = *e;
          STROP_TRY(get_string(x, "id", &m.id, true));
          STROP_TRY(get_double(x, "similarity", &m.similarity, false));
          STROP_TRY(get_uint(x, "reports", &m.reports, false));
          STROP_TRY(get_uint(x, "revokes", &m.revokes, false));
          STROP_TRY(get_uint(x, "confidence", &m.confidence, false));
          mv.matches.push_back(std::move(m));
        }
      }
      resp.results.push_back(std::move(mv));
    }
    return resp;
  } catch (const json::exception& e) {
    return make_error(Errc::kMalformed, e.what());
  }
}

std::string encode(const VoteResponse& resp) {
  std::string out;
  out.reserve(32 + resp.results.size() * 96);
  JsonWriter w(&out);
  write_header(w);
  w.key("results");
  w.begin_array();
  for (const auto& m : resp.results) {
    w.begin_object();
    if (!m.id.empty()) {
      w.key("id");
      w.string(m.id);
    }
    w.key("recorded");
    w.unsigned_integer(m.recorded);
    w.key("unchanged");
    w.unsigned_integer(m.unchanged);
    w.key("changed");
    w.unsigned_integer(m.changed);
    w.key("withdrawn");
    w.unsigned_integer(m.withdrawn);
    w.key("unknown");
    w.unsigned_integer(m.unknown);
    w.key("listable");
    w.boolean(m.listable);
    w.end_object();
  }
  w.end_array();
  w.end_object();
  return out;
}

Result<VoteResponse> decode_vote_response(std::string_view body) {
  try {
    auto j = parse_object(body, kResponseMaxDepth);
    if (!j) return j.error();
    auto results = j->find("results");
    if (results == j->end() || !results->is_array()) return make_error(Errc::kMalformed, "missing \"results\"");
    VoteResponse resp;
    for (const auto& r : *results) {
      if (!r.is_object()) return make_error(Errc::kMalformed, "result is not an object");
      MessageVoteResult m;
      STROP_TRY(get_string(r, "id", &m.id, false));
      STROP_TRY(get_uint(r, "recorded", &m.recorded, false));
      STROP_TRY(get_uint(r, "unchanged", &m.unchanged, false));
      STROP_TRY(get_uint(r, "changed", &m.changed, false));
      STROP_TRY(get_uint(r, "withdrawn", &m.withdrawn, false));
      STROP_TRY(get_uint(r, "unknown", &m.unknown, false));
      STROP_TRY(get_bool(r, "listable", &m.listable));
      resp.results.push_back(std::move(m));
    }
    return resp;
  } catch (const json::exception& e) {
    return make_error(Errc::kMalformed, e.what());
  }
}

std::string encode(const RegisterResponse& resp) {
  std::string out;
  JsonWriter w(&out);
  write_header(w);
  w.key("reporter");
  w.string(resp.reporter);
  w.key("secret");
  w.string(resp.secret);
  w.key("trust");
  w.number(resp.trust);
  w.end_object();
  return out;
}

Result<RegisterResponse> decode_register_response(std::string_view body) {
  try {
    auto j = parse_object(body, kResponseMaxDepth);
    if (!j) return j.error();
    RegisterResponse resp;
    STROP_TRY(get_string(*j, "reporter", &resp.reporter, true));
    STROP_TRY(get_string(*j, "secret", &resp.secret, true));
    STROP_TRY(get_double(*j, "trust", &resp.trust, false));
    return resp;
  } catch (const json::exception& e) {
    return make_error(Errc::kMalformed, e.what());
  }
}

std::string encode(const StateResponse& resp) {
  std::string out;
  JsonWriter w(&out);
  write_header(w);
  w.key("node_version");
  w.string(resp.node_version);
  w.key("api_version");
  w.integer(resp.api_version);
  w.key("engines");
  w.begin_array();
  for (const auto& e : resp.engines) w.string(e);
  w.end_array();
  w.key("threshold");
  w.integer(resp.threshold);
  w.key("limits");
  w.begin_object();
  w.key("max_body_bytes");
  w.unsigned_integer(resp.limits.max_body_bytes);
  w.key("max_messages");
  w.unsigned_integer(resp.limits.max_messages);
  w.key("max_sigs_per_message");
  w.unsigned_integer(resp.limits.max_sigs_per_message);
  w.key("max_signature_length");
  w.unsigned_integer(resp.limits.max_signature_length);
  w.key("max_message_id_length");
  w.unsigned_integer(resp.limits.max_message_id_length);
  w.key("max_json_depth");
  w.unsigned_integer(resp.limits.max_json_depth);
  w.end_object();
  w.key("anonymous_check");
  w.boolean(resp.anonymous_check);
  w.key("open_registration");
  w.boolean(resp.open_registration);
  w.key("signatures");
  w.unsigned_integer(resp.signatures);
  w.key("reporters");
  w.unsigned_integer(resp.reporters);
  w.end_object();
  return out;
}

Result<StateResponse> decode_state_response(std::string_view body) {
  try {
    auto j = parse_object(body, kResponseMaxDepth);
    if (!j) return j.error();
    StateResponse s;
    STROP_TRY(get_string(*j, "node_version", &s.node_version, false));
    STROP_TRY(get_uint(*j, "api_version", &s.api_version, false));
    auto engines = j->find("engines");
    if (engines != j->end() && engines->is_array()) {
      for (const auto& e : *engines) {
        if (e.is_string()) s.engines.push_back(e.get<std::string>());
      }
    }
    STROP_TRY(get_uint(*j, "threshold", &s.threshold, false));
    auto lim = j->find("limits");
    if (lim != j->end() && lim->is_object()) {
      STROP_TRY(get_uint(*lim, "max_body_bytes", &s.limits.max_body_bytes, false));
      STROP_TRY(get_uint(*lim, "max_messages", &s.limits.max_messages, false));
      STROP_TRY(get_uint(*lim, "max_sigs_per_message", &s.limits.max_sigs_per_message, false));
      STROP_TRY(get_uint(*lim, "max_signature_length", &s.limits.max_signature_length, false));
      STROP_TRY(get_uint(*lim, "max_message_id_length", &s.limits.max_message_id_length, false));
      STROP_TRY(get_uint(*lim, "max_json_depth", &s.limits.max_json_depth, false));
    }
    STROP_TRY(get_bool(*j, "anonymous_check", &s.anonymous_check));
    STROP_TRY(get_bool(*j, "open_registration", &s.open_registration));
    STROP_TRY(get_uint(*j, "signatures", &s.signatures, false));
    STROP_TRY(get_uint(*j, "reporters", &s.reporters, false));
    return s;
  } catch (const json::exception& e) {
    return make_error(Errc::kMalformed, e.what());
  }
}

std::string encode(const ErrorBody& err) {
  std::string out;
  JsonWriter w(&out);
  write_header(w);
  w.key("error");
  w.begin_object();
  w.key("code");
  w.string(api_errc_name(err.code));
  w.key("message");
  w.string(err.message);
  w.end_object();
  w.end_object();
  return out;
}

Result<ErrorBody> decode_error_body(std::string_view body) {
  try {
    auto j = parse_object(body, kResponseMaxDepth);
    if (!j) return j.error();
    auto e = j->find("error");
    if (e == j->end() || !e->is_object()) return make_error(Errc::kMalformed, "missing \"error\"");
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
  } catch (const json::exception& e) {
    return make_error(Errc::kMalformed, e.what());
  }
}

std::string encode(const Identity& id) {
  std::string out;
  JsonWriter w(&out);
  write_header(w);
  w.key("node");
  w.string(id.node);
  w.key("reporter");
  w.string(id.reporter);
  w.key("secret");
  w.string(id.secret);
  w.end_object();
  out.push_back('\n');
  return out;
}

Result<Identity> decode_identity(std::string_view text) {
  try {
    if (text.size() > (64u << 10)) return make_error(Errc::kLimitExceeded, "identity file larger than 64 KiB");
    auto j = parse_object(text, kResponseMaxDepth);
    if (!j) return j.error();
    Identity id;
    STROP_TRY(get_string(*j, "node", &id.node, true));
    STROP_TRY(get_string(*j, "reporter", &id.reporter, true));
    STROP_TRY(get_string(*j, "secret", &id.secret, true));
    if (!valid_reporter_name(id.reporter)) return make_error(Errc::kInvalidArgument, "bad reporter name");
    if (id.secret.empty()) return make_error(Errc::kInvalidArgument, "empty secret");
    return id;
  } catch (const json::exception& e) {
    return make_error(Errc::kMalformed, e.what());
  }
}

ApiErrc api_errc_for(const Error& e) {
  if (e.code == Errc::kInvalidArgument && e.message.rfind(kUnsupportedVersionPrefix, 0) == 0) {
    return ApiErrc::kUnsupportedVersion;
  }
  return api_errc_from(e.code);
}

}  // namespace strop::protocol
