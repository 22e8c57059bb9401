// inputs.hpp: turns the CLI's FILE... arguments into a stream of messages.
//
// An argument is a single message file, an mbox file (first line "From "), a Maildir
// (directory with cur/ and new/) or any directory of message files, or "-" for stdin (which
// may itself be an mbox). Each message gets a display name ("file", "file:3" for the 3rd
// message of an mbox). Unreadable inputs and inputs that are not mail (looks_like_mail; each
// message of an mbox is checked) are passed to on_error and the walk continues. Not thread-safe;
// used from the CLI's main thread only.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace strop::cli {

struct InputMessage {
  std::string name;  // display name for output lines
  std::string raw;   // raw bytes of one message
};

struct InputLimits {
  std::size_t max_file_bytes = 512u << 20;    // Default: 512 MiB per file (mbox)
  std::size_t max_message_bytes = 32u << 20;  // Default: 32 MiB per message
  // Refuse an input that is not mail (sigs::looks_like_mail) with "not a mail message": what
  // report and check do. `strop sig` signs any bytes, as razor-check -H and pyzor digest do.
  bool mail_only = true;
};

// Calls on_message for every message and on_error(name, reason) for every input that could
// not be read. Returns the number of errors.
std::size_t for_each_message(
    const std::vector<std::string>& args, const std::function<void(InputMessage&&)>& on_message,
    const std::function<void(const std::string&, const std::string&)>& on_error,
    const InputLimits& limits = {});

// Splits mbox text at "\nFrom " lines; each message keeps its "From " line.
std::vector<std::string_view> split_mbox(std::string_view text);

// The reason on_error is given for an input that is not mail (looks_like_mail).
inline constexpr std::string_view kNotMail =
    "not a mail message (no RFC 5322 header block with From, Date, Message-ID, Received or "
    "Subject)";

// True when `raw` starts with an RFC 5322 header block (after an optional mbox "From "
// line): it begins with a header field, ends at the first empty line, and has at least one
// of From, Date, Message-ID, Received or Subject (any case). /etc/passwd's "name:..." lines
// are fields by syntax but none of these, so it is not mail.
bool looks_like_mail(std::string_view raw);

}  // namespace strop::cli
