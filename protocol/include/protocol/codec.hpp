// codec.hpp: JSON encoding and decoding of the native API's messages (messages.hpp).
//
// Wire rules (docs/protocol.md): UTF-8 JSON objects; every body carries "v": 1; readers
// ignore unknown fields and writers never repurpose old ones; a missing "v" is read as 1.
// Decoders take untrusted bytes and never throw: they return
//   Errc::kMalformed        not JSON, or a field has the wrong type / is missing;
//   Errc::kLimitExceeded    a Limits value was exceeded (body size, counts, lengths, depth);
//   Errc::kInvalidArgument  a value is unusable (bad signature text, reporter name, trust),
//                           or "v" names a version this library does not speak (message
//                           starts with kUnsupportedVersionPrefix).
// Encoders produce compact JSON with fields in a fixed order. Request encoders are what a
// client calls (the agent); request decoders are what the node calls, and vice versa for
// responses. api_errc_for() maps a decoder error to the API error code a node answers with.
// Thread-safety: pure functions; any thread.
#pragma once

#include <string>
#include <string_view>

#include "base/result.hpp"
#include "protocol/errors.hpp"
#include "protocol/limits.hpp"
#include "protocol/messages.hpp"

namespace strop::protocol {

inline constexpr std::string_view kUnsupportedVersionPrefix = "unsupported API version";

// ---- requests (client encodes, node decodes)

std::string encode(const CheckRequest& req);
// REQUIRES of the result: 1..max_messages messages, each with <= max_sigs_per_message
// signatures of <= max_signature_length characters, ids <= max_message_id_length.
Result<CheckRequest> decode_check_request(std::string_view body, const Limits& limits = {});

std::string encode(const VoteRequest& req);
// As decode_check_request, and every message has at least one signature.
Result<VoteRequest> decode_vote_request(std::string_view body, const Limits& limits = {});

std::string encode(const RegisterRequest& req);
Result<RegisterRequest> decode_register_request(std::string_view body, const Limits& limits = {});

// ---- responses (node encodes, client decodes). Response decoders bound nesting depth
// only; the client's transport bounds the body size.

std::string encode(const CheckResponse& resp);
// One message's verdict as `strop check --json` prints it (and the node's web console shows
// it): {"name","verdict","spam","confidence","matches":[{"engine","id","similarity",
// "reports","revokes","confidence"}]}, one line without the newline.
std::string encode_verdict_line(std::string_view name, const MessageVerdict& v);
Result<CheckResponse> decode_check_response(std::string_view body);

std::string encode(const VoteResponse& resp);
Result<VoteResponse> decode_vote_response(std::string_view body);

std::string encode(const RegisterResponse& resp);
Result<RegisterResponse> decode_register_response(std::string_view body);

std::string encode(const StateResponse& resp);
Result<StateResponse> decode_state_response(std::string_view body);

// {"v":1,"error":{"code":"bad_signature","message":"..."}}
std::string encode(const ErrorBody& err);
// Unknown code strings decode to ApiErrc::kInternal with the code kept in the message.
Result<ErrorBody> decode_error_body(std::string_view body);

// ---- the reporter identity file (JSON, see Identity)

std::string encode(const Identity& id);
Result<Identity> decode_identity(std::string_view text);

// The API error code for an error returned by one of the decoders above.
ApiErrc api_errc_for(const Error& decode_error);

}  // namespace strop::protocol
