#include "inputs.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <system_error>

#include "sigs/message.hpp"

namespace strop::cli {
namespace fs = std::filesystem;

std::vector<std::string_view> split_mbox(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  std::size_t pos = 0;
  while ((pos = text.find("\nFrom ", pos)) != std::string_view::npos) {
    std::size_t cut = pos + 1;
    if (cut > start) out.push_back(text.substr(start, cut - start));
    start = cut;
    pos = cut;
  }
  if (start < text.size()) out.push_back(text.substr(start));
  return out;
}

bool looks_like_mail(std::string_view raw) { return sigs::looks_like_mail(raw); }

namespace {

bool read_file(const fs::path& p, std::string* out, const InputLimits& limits, std::string* err) {
  std::error_code ec;
  auto size = fs::file_size(p, ec);
  if (ec) {
    *err = ec.message();
    return false;
  }
  if (size > limits.max_file_bytes) {
    *err = "file larger than " + std::to_string(limits.max_file_bytes) + " bytes";
    return false;
  }
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    *err = "cannot open for reading";
    return false;
  }
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) {
    *err = "read error";
    return false;
  }
  return true;
}

std::size_t emit_text(const std::string& name, std::string&& text,
                      const std::function<void(InputMessage&&)>& on_message,
                      const std::function<void(const std::string&, const std::string&)>& on_error,
                      const InputLimits& limits) {
  if (limits.mail_only && !looks_like_mail(text)) {
    on_error(name, std::string(kNotMail));
    return 1;
  }
  std::size_t errors = 0;
  if (text.starts_with("From ")) {
    auto parts = split_mbox(text);
    if (parts.size() > 1) {
      std::size_t n = 0;
      for (auto part : parts) {
        ++n;
        std::string msg_name = name + ":" + std::to_string(n);
        if (part.size() > limits.max_message_bytes) {
          on_error(msg_name, "message larger than " + std::to_string(limits.max_message_bytes));
          ++errors;
          continue;
        }
        if (limits.mail_only && !looks_like_mail(part)) {
          on_error(msg_name, std::string(kNotMail));
          ++errors;
          continue;
        }
        on_message(InputMessage{msg_name, std::string(part)});
      }
      return errors;
    }
  }
  if (text.size() > limits.max_message_bytes) {
    on_error(name, "message larger than " + std::to_string(limits.max_message_bytes));
    return 1;
  }
  on_message(InputMessage{name, std::move(text)});
  return 0;
}

}  // namespace

std::size_t for_each_message(
    const std::vector<std::string>& args, const std::function<void(InputMessage&&)>& on_message,
    const std::function<void(const std::string&, const std::string&)>& on_error,
    const InputLimits& limits) {
  std::size_t errors = 0;
  for (const auto& arg : args) {
    if (arg == "-") {
      std::ostringstream ss;
      ss << std::cin.rdbuf();
      errors += emit_text("-", std::move(ss).str(), on_message, on_error, limits);
      continue;
    }
    std::error_code ec;
    fs::path p(arg);
    auto st = fs::status(p, ec);
    if (ec || !fs::exists(st)) {
      on_error(arg, ec ? ec.message() : "no such file or directory");
      ++errors;
      continue;
    }
    if (fs::is_directory(st)) {
      // Maildir (cur/ and new/) or a plain directory of message files, sorted for stable output.
      std::vector<fs::path> files;
      std::vector<fs::path> dirs;
      if (fs::is_directory(p / "cur", ec) || fs::is_directory(p / "new", ec)) {
        dirs = {p / "new", p / "cur"};
      } else {
        dirs = {p};
      }
      for (const auto& d : dirs) {
        if (!fs::is_directory(d, ec)) continue;
        for (auto it = fs::directory_iterator(d, ec); !ec && it != fs::directory_iterator();
             it.increment(ec)) {
          if (it->is_regular_file(ec)) files.push_back(it->path());
        }
      }
      std::sort(files.begin(), files.end());
      for (const auto& f : files) {
        std::string text, err;
        if (!read_file(f, &text, limits, &err)) {
          on_error(f.string(), err);
          ++errors;
          continue;
        }
        errors += emit_text(f.string(), std::move(text), on_message, on_error, limits);
      }
      continue;
    }
    std::string text, err;
    if (!read_file(p, &text, limits, &err)) {
      on_error(arg, err);
      ++errors;
      continue;
    }
    errors += emit_text(arg, std::move(text), on_message, on_error, limits);
  }
  return errors;
}

}  // namespace strop::cli
