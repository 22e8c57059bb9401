// identity.hpp: the reporter identity file (protocol::Identity as JSON, docs/protocol.md),
// written by `strop-node reporter add --out FILE` and by `strop register`, read by every
// client that reports or revokes.
//
// The file holds a secret: it is written with mode 0600 and never logged. Functions do file
// I/O; they are thread-safe as long as two threads do not write the same path.
#pragma once

#include <string>

#include "base/result.hpp"
#include "protocol/messages.hpp"

namespace strop::agent {

// Limit on the size of an identity file. Default: 64 KiB.
inline constexpr std::size_t kMaxIdentityFileBytes = 64u << 10;

// The default identity path: $XDG_CONFIG_HOME/strop/identity.json, else
// $HOME/.config/strop/identity.json; "" when neither variable is set.
std::string default_identity_path();

// Reads an identity file. Errors: kIo (unreadable, with the reason), kMalformed (not an
// identity file), kLimitExceeded (larger than kMaxIdentityFileBytes).
Result<protocol::Identity> load_identity(const std::string& path);

// Writes `id` to `path` with mode 0600: written to a temporary file in the same directory,
// fsync'd and renamed over `path`. Missing parent directories are created with mode 0700.
// Errors: kIo with the reason.
Result<void> save_identity(const std::string& path, const protocol::Identity& id);

}  // namespace strop::agent
