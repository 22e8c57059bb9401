#include "agent/client.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <random>

#include "agent/node_url.hpp"
#include "base/digest.hpp"
#include "http_transport.hpp"
#include "protocol/codec.hpp"
#include "protocol/errors.hpp"
#include "protocol/limits.hpp"
#include "protocol/signing.hpp"
#include "strop/version.hpp"
#include "ttl_cache.hpp"
#include "udp_transport.hpp"

namespace strop::agent {

using detail::HttpRequest;
using detail::HttpResponse;
using detail::NodeTransport;

namespace {

struct Node {
  Node(NodeUrl url, detail::TransportOptions o, std::shared_ptr<detail::TlsContext> tls)
      : transport(std::move(url), std::move(o), std::move(tls)) {}
  NodeTransport transport;
  // Until when (steady clock, ns since epoch) this node is tried last; 0 when healthy.
  std::atomic<Clock::rep> down_until{0};
};

// A udp:// node (strop-udp/1): answers checks only.
struct UdpNode {
  explicit UdpNode(NodeUrl url) : transport(std::move(url)) {}
  detail::UdpTransport transport;
  std::atomic<Clock::rep> down_until{0};
};

// strop-udp/1 datagrams the client builds stay under a typical path MTU (no fragments).
constexpr std::size_t kUdpMaxDatagramBytes = 1400;

// Called with the range [begin, end) of the messages a 2xx answer covers, and its body.
using BatchHandler = std::function<Result<void>(std::size_t, std::size_t, std::string_view)>;

struct Answer {
  HttpResponse response;
  const Node* node = nullptr;
};

std::string seconds_text(Clock::duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", std::chrono::duration<double>(d).count());
  return buf;
}

std::size_t estimated_size(const protocol::MessageSigs& m) {
  std::size_t n = 32 + m.id.size();
  for (const auto& s : m.sigs) n += s.value.size() + 16;
  return n;
}

}  // namespace

// The wire form of one set, truncated to `max_sigs` signatures.
protocol::MessageSigs message_sigs(const sigs::SignatureSet& set, std::size_t max_sigs) {
  protocol::MessageSigs m;
  std::size_t n = std::min(set.sigs.size(), max_sigs);
  m.sigs.assign(set.sigs.begin(), set.sigs.begin() + static_cast<long>(n));
  return m;
}

struct Client::Impl {
  ClientOptions options;
  std::vector<std::unique_ptr<Node>> nodes;
  std::vector<std::unique_ptr<UdpNode>> udp_nodes;
  std::atomic<std::uint32_t> next_udp_id{static_cast<std::uint32_t>(std::random_device{}())};
  detail::TtlCache<protocol::MessageVerdict> cache;
  std::atomic<std::size_t> requests{0};
  std::atomic<std::size_t> failovers{0};

  explicit Impl(ClientOptions o)
      : options(std::move(o)), cache(options.cache_ttl, options.cache_capacity) {}

  std::int64_t unix_now() const {
    if (options.unix_time) return options.unix_time();
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  // Nodes in the order to try: healthy ones in configured order, then those that failed
  // recently, soonest-to-recover first.
  std::vector<Node*> order() const {
    auto now = Clock::now().time_since_epoch().count();
    std::vector<Node*> healthy;
    std::vector<Node*> down;
    for (const auto& n : nodes) {
      (n->down_until.load(std::memory_order_relaxed) > now ? down : healthy).push_back(n.get());
    }
    std::stable_sort(down.begin(), down.end(), [](const Node* a, const Node* b) {
      return a->down_until.load(std::memory_order_relaxed) <
             b->down_until.load(std::memory_order_relaxed);
    });
    healthy.insert(healthy.end(), down.begin(), down.end());
    return healthy;
  }

  void mark_down(Node* n) {
    auto until = (Clock::now() + options.node_retry_after).time_since_epoch().count();
    n->down_until.store(until, std::memory_order_relaxed);
  }

  // One request with failover. Returns the first answer that is not a transport failure or
  // a 5xx; the caller maps its status.
  Result<Answer> call(const std::string& method, std::string_view path, const std::string& body,
                      bool sign, Deadline deadline) {
    if (sign && !options.identity) {
      return make_error(Errc::kInvalidArgument,
                        "no reporter identity: give --identity FILE or run `strop register`");
    }
    if (nodes.empty()) {
      return make_error(Errc::kInvalidArgument,
                        "no http:// or https:// node configured (udp:// nodes answer checks only)");
    }
    auto list = order();
    std::string failures;
    Errc last = Errc::kUnavailable;
    bool all_timeouts = true;
    for (std::size_t i = 0; i < list.size(); ++i) {
      Node* node = list[i];
      const NodeUrl& url = node->transport.url();
      auto now = Clock::now();
      if (now >= deadline) {
        if (!failures.empty()) failures += "; ";
        failures += "node " + url.text + " not tried: deadline reached";
        last = Errc::kTimeout;
        break;
      }
      auto attempt_deadline = now + (deadline - now) / static_cast<long>(list.size() - i);
      HttpRequest req;
      req.method = method;
      req.target = url.base_path + std::string(path);
      req.body = body;
      if (sign) {
        // Signed per attempt: a retried request needs a new nonce (the node rejects reuse).
        req.fresh_headers = [this, &req](std::vector<std::pair<std::string, std::string>>* out) {
          auto h = protocol::sign_request(options.identity->reporter, options.identity->secret,
                                          req.method, req.target, req.body, unix_now(),
                                          protocol::make_nonce());
          out->emplace_back(std::string(protocol::kHeaderReporter), h.reporter);
          out->emplace_back(std::string(protocol::kHeaderTimestamp), h.timestamp);
          out->emplace_back(std::string(protocol::kHeaderNonce), h.nonce);
          out->emplace_back(std::string(protocol::kHeaderSignature), h.signature);
        };
      }
      if (i > 0) failovers.fetch_add(1, std::memory_order_relaxed);
      requests.fetch_add(1, std::memory_order_relaxed);
      auto started = Clock::now();
      auto r = node->transport.exchange(req, attempt_deadline);
      std::string failure;
      if (!r) {
        last = r.error().code;
        if (last == Errc::kTimeout) {
          failure = "node " + url.text + " did not answer within " +
                    seconds_text(attempt_deadline - started) + " (" + r.error().message + ")";
        } else {
          all_timeouts = false;
          failure = "node " + url.text + " unreachable: " + r.error().message;
        }
      } else if (r->status >= 500) {
        all_timeouts = false;
        last = Errc::kUnavailable;
        auto eb = protocol::decode_error_body(r->body);
        failure = "node " + url.text + " failed: HTTP " + std::to_string(r->status) +
                  (eb ? " " + std::string(protocol::api_errc_name(eb->code)) + ": " + eb->message
                      : std::string());
      } else {
        node->down_until.store(0, std::memory_order_relaxed);
        return Answer{std::move(r).value(), node};
      }
      mark_down(node);
      if (!failures.empty()) failures += "; ";
      failures += failure;
    }
    return make_error(all_timeouts && last == Errc::kTimeout ? Errc::kTimeout : last, failures);
  }

  // Checks msgs over the udp:// nodes (healthy first, failover in order), in datagrams of
  // at most 64 messages and kUdpMaxDatagramBytes. Each answered message goes to on_result
  // (its index in msgs); messages no udp node answered go to *leftover when there is an
  // HTTP node to ask, else the call fails.
  Result<void> udp_check(
      std::span<const protocol::MessageSigs> msgs, Deadline deadline,
      const std::function<void(std::size_t, protocol::MessageVerdict)>& on_result,
      std::vector<std::size_t>* leftover) {
    namespace udp = protocol::udp;
    const udp::Limits limits;
    std::size_t i = 0;
    while (i < msgs.size()) {
      udp::CheckRequest req;
      std::vector<std::size_t> which;
      std::size_t bytes = udp::kRequestHeaderBytes;
      for (; i < msgs.size() && req.messages.size() < limits.max_messages; ++i) {
        const auto& sigs = msgs[i].sigs;
        if (sigs.empty()) {  // nothing to look up: what the node answers for an empty set
          on_result(i, protocol::MessageVerdict{});
          continue;
        }
        std::size_t n = std::min(sigs.size(), limits.max_sigs_per_message);
        std::size_t size = 1;
        for (std::size_t k = 0; k < n; ++k) size += 1 + udp::value_bytes(sigs[k].engine);
        if (bytes + size > limits.max_datagram_bytes) {  // too big for any datagram: HTTP
          if (nodes.empty())
            return make_error(Errc::kLimitExceeded, "a message too large for strop-udp/1");
          leftover->push_back(i);
          continue;
        }
        if (!which.empty() && bytes + size > kUdpMaxDatagramBytes) break;
        bytes += size;
        req.messages.emplace_back(sigs.begin(), sigs.begin() + static_cast<long>(n));
        which.push_back(i);
      }
      if (which.empty()) continue;
      req.request_id = next_udp_id.fetch_add(1, std::memory_order_relaxed);
      auto datagram = udp::encode_request(req);
      if (!datagram) return datagram.error();
      auto r = udp_exchange(*datagram, req.request_id, which.size(), deadline);
      if (r) {
        for (std::size_t k = 0; k < which.size(); ++k) on_result(which[k], std::move((*r)[k]));
      } else if (!nodes.empty() && r.error().code != Errc::kInvalidArgument) {
        leftover->insert(leftover->end(), which.begin(), which.end());
      } else {
        return r.error();
      }
    }
    return {};
  }

  // One datagram with failover over the udp:// nodes; the verdicts in request order.
  Result<std::vector<protocol::MessageVerdict>> udp_exchange(const std::string& datagram,
                                                             std::uint32_t id, std::size_t count,
                                                             Deadline deadline) {
    namespace udp = protocol::udp;
    auto now_rep = Clock::now().time_since_epoch().count();
    std::vector<UdpNode*> list;
    for (const auto& n : udp_nodes) list.push_back(n.get());
    std::stable_partition(list.begin(), list.end(), [now_rep](const UdpNode* n) {
      return n->down_until.load(std::memory_order_relaxed) <= now_rep;
    });
    // With an HTTP node to fall back to, it keeps an equal share of the time.
    const std::size_t shares = list.size() + (nodes.empty() ? 0 : 1);
    std::string failures;
    Errc last = Errc::kUnavailable;
    for (std::size_t i = 0; i < list.size(); ++i) {
      UdpNode* node = list[i];
      auto now = Clock::now();
      if (now >= deadline) {
        last = Errc::kTimeout;
        break;
      }
      auto attempt_deadline = now + (deadline - now) / static_cast<long>(shares - i);
      auto resend = std::clamp(
          std::chrono::duration_cast<std::chrono::milliseconds>(attempt_deadline - now) / 3,
          std::chrono::milliseconds(50), std::chrono::milliseconds(250));
      if (i > 0) failovers.fetch_add(1, std::memory_order_relaxed);
      requests.fetch_add(1, std::memory_order_relaxed);
      auto r = node->transport.exchange(datagram, id, attempt_deadline, resend);
      std::string failure;
      const std::string& url = node->transport.url().text;
      if (!r) {
        last = r.error().code;
        failure =
            "node " + url +
            (last == Errc::kTimeout ? " did not answer" : " unreachable: " + r.error().message);
      } else if (r->status == udp::Status::kRateLimited) {
        last = Errc::kRateLimited;
        failure = "rate-limited by node " + url;
      } else if (r->status != udp::Status::kOk || r->results.size() != count) {
        last = Errc::kUnavailable;
        failure = "node " + url +
                  (r->status == udp::Status::kOk ? ": wrong number of results"
                                                 : " failed (server error)");
      } else {
        node->down_until.store(0, std::memory_order_relaxed);
        std::vector<protocol::MessageVerdict> out(count);
        for (std::size_t k = 0; k < count; ++k) {
          const auto& m = r->results[k];
          auto& v = out[k];
          v.verdict = m.spam ? protocol::Verdict::kSpam : protocol::Verdict::kNotSpam;
          v.confidence = m.confidence;
          // strop-udp/1 carries one record per matched engine, without stored ids or
          // per-signature confidence.
          for (const auto& x : m.matches) {
            v.matches.push_back(
                {x.engine, std::string(), x.similarity / 100.0, x.reports, x.revokes, 0});
          }
        }
        return out;
      }
      if (last != Errc::kRateLimited) {
        node->down_until.store((Clock::now() + options.node_retry_after).time_since_epoch().count(),
                               std::memory_order_relaxed);
      }
      if (!failures.empty()) failures += "; ";
      failures += failure;
    }
    if (failures.empty()) failures = "deadline reached before a udp:// node was tried";
    return make_error(last, failures);
  }

  // Maps a non-2xx answer to an Error with a one-line message.
  Error answer_error(const Answer& a) const {
    const std::string& url = a.node->transport.url().text;
    auto eb = protocol::decode_error_body(a.response.body);
    int status = a.response.status;
    std::optional<protocol::ApiErrc> code;
    std::string detail;
    if (eb) {
      code = eb->code;
      detail = eb->message;
    }
    Errc errc = code            ? protocol::errc_from(*code)
                : status == 401 ? Errc::kUnauthorized
                : status == 403 ? Errc::kForbidden
                : status == 429 ? Errc::kRateLimited
                : status == 404 ? Errc::kNotFound
                : status == 413 ? Errc::kLimitExceeded
                                : Errc::kMalformed;
    std::string suffix = detail.empty() ? "" : ": " + detail;
    switch (errc) {
      case Errc::kUnauthorized: {
        std::string who = options.identity ? " as reporter " + options.identity->reporter : "";
        return make_error(errc, "authentication failed at node " + url + who + suffix);
      }
      case Errc::kForbidden:
        return make_error(errc, "node " + url + " refused the request (forbidden)" + suffix);
      case Errc::kRateLimited: {
        std::string after =
            a.response.retry_after.empty() ? "" : " (retry after " + a.response.retry_after + " s)";
        return make_error(errc, "rate-limited by node " + url + after + suffix);
      }
      default: {
        std::string name = code ? std::string(protocol::api_errc_name(*code)) : "error";
        return make_error(
            errc, "node " + url + " answered HTTP " + std::to_string(status) + " " + name + suffix);
      }
    }
  }

  // Sends msgs[begin, end) as one request of type Req; on 413 splits it in halves.
  template <class Req>
  Result<void> send_range(std::span<const protocol::MessageSigs> msgs, std::size_t begin,
                          std::size_t end, std::string_view path, bool sign, Deadline deadline,
                          const BatchHandler& on_ok) {
    Req req;
    req.messages.assign(msgs.begin() + static_cast<long>(begin),
                        msgs.begin() + static_cast<long>(end));
    std::string body = protocol::encode(req);
    auto a = call("POST", path, body, sign, deadline);
    if (!a) return a.error();
    int status = a->response.status;
    if (status == 401 && !sign && options.identity) {
      // The node requires signed checks: sign and try again.
      auto eb = protocol::decode_error_body(a->response.body);
      if (eb && eb->code == protocol::ApiErrc::kAuthRequired) {
        return send_range<Req>(msgs, begin, end, path, true, deadline, on_ok);
      }
    }
    if (status == 413 && end - begin > 1) {
      std::size_t mid = begin + (end - begin) / 2;
      auto r = send_range<Req>(msgs, begin, mid, path, sign, deadline, on_ok);
      if (!r) return r;
      return send_range<Req>(msgs, mid, end, path, sign, deadline, on_ok);
    }
    if (status < 200 || status > 299) return answer_error(*a);
    auto r = on_ok(begin, end, a->response.body);
    if (!r) {
      return make_error(r.error().code, "node " + a->node->transport.url().text +
                                            ": bad answer: " + r.error().message);
    }
    return {};
  }

  template <class Req>
  Result<void> send_batches(std::span<const protocol::MessageSigs> msgs, std::string_view path,
                            bool sign, Deadline deadline, const BatchHandler& on_ok) {
    const std::size_t max_batch = std::max<std::size_t>(1, options.max_batch);
    std::size_t i = 0;
    while (i < msgs.size()) {
      std::size_t j = i;
      std::size_t bytes = 32;
      while (j < msgs.size() && j - i < max_batch) {
        std::size_t b = estimated_size(msgs[j]);
        if (j > i && bytes + b > options.max_request_bytes) break;
        bytes += b;
        ++j;
      }
      auto r = send_range<Req>(msgs, i, j, path, sign, deadline, on_ok);
      if (!r) return r;
      i = j;
    }
    return {};
  }

  Result<VoteSummary> vote(std::span<const sigs::SignatureSet> sets, std::string_view path,
                           Deadline deadline) {
    if (!options.identity) {
      return make_error(Errc::kInvalidArgument,
                        "no reporter identity: give --identity FILE or run `strop register`");
    }
    VoteSummary out;
    out.results.resize(sets.size());
    std::vector<protocol::MessageSigs> msgs;
    std::vector<std::size_t> index;
    for (std::size_t i = 0; i < sets.size(); ++i) {
      if (sets[i].sigs.empty()) {
        ++out.skipped_empty;
        continue;
      }
      msgs.push_back(message_sigs(sets[i], options.max_sigs_per_message));
      index.push_back(i);
    }
    cache.clear();
    auto r = send_batches<protocol::VoteRequest>(
        msgs, path, true, deadline,
        [&](std::size_t offset, std::size_t end, std::string_view body) -> Result<void> {
          auto resp = protocol::decode_vote_response(body);
          if (!resp) return resp.error();
          if (resp->results.size() != end - offset) {
            return make_error(Errc::kMalformed, "wrong number of results");
          }
          for (std::size_t k = 0; k < resp->results.size(); ++k) {
            out.results[index[offset + k]] = std::move(resp->results[k]);
          }
          return {};
        });
    cache.clear();
    if (!r) return r.error();
    return out;
  }
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::create(ClientOptions options) {
  if (options.nodes.empty()) {
    return make_error(Errc::kInvalidArgument, "no node configured: give --node URL");
  }
  std::vector<NodeUrl> urls;
  std::vector<NodeUrl> udp_urls;
  bool any_tls = false;
  for (const auto& n : options.nodes) {
    auto u = parse_node_url(n);
    if (!u) return u.error();
    any_tls = any_tls || u->tls;
    (u->udp ? udp_urls : urls).push_back(std::move(u).value());
  }
  std::shared_ptr<detail::TlsContext> tls;
  if (any_tls) {
    auto t = detail::TlsContext::create(options.ca_file, options.tls_verify);
    if (!t) return t.error();
    tls = std::move(t).value();
  }
  detail::TransportOptions to;
  to.max_idle_connections = options.max_idle_connections;
  to.idle_timeout = options.idle_timeout;
  to.max_response_bytes = options.max_response_bytes;
  to.user_agent =
      options.user_agent.empty() ? "strop-agent/" + std::string(kVersion) : options.user_agent;
  auto impl = std::make_unique<Impl>(std::move(options));
  for (auto& u : urls) impl->nodes.push_back(std::make_unique<Node>(std::move(u), to, tls));
  for (auto& u : udp_urls) impl->udp_nodes.push_back(std::make_unique<UdpNode>(std::move(u)));
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Deadline Client::default_deadline() const { return Clock::now() + impl_->options.timeout; }
const ClientOptions& Client::options() const { return impl_->options; }

ClientStats Client::stats() const {
  ClientStats s;
  s.cache_hits = impl_->cache.hits();
  s.cache_misses = impl_->cache.misses();
  s.requests = impl_->requests.load();
  s.failovers = impl_->failovers.load();
  return s;
}

Result<sigs::SignatureSet> Client::signatures(std::string_view raw) const {
  return sigs::compute(raw, impl_->options.sig_options);
}

Result<std::vector<protocol::MessageVerdict>> Client::check(
    std::span<const sigs::SignatureSet> sets, Deadline deadline) {
  std::vector<protocol::MessageVerdict> out(sets.size());
  std::vector<protocol::MessageSigs> msgs;
  std::vector<std::size_t> index;
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < sets.size(); ++i) {
    std::string key = sha256_hex(sets[i].text());
    if (auto hit = impl_->cache.get(key)) {
      out[i] = std::move(*hit);
      continue;
    }
    msgs.push_back(message_sigs(sets[i], impl_->options.max_sigs_per_message));
    index.push_back(i);
    keys.push_back(std::move(key));
  }
  if (!impl_->udp_nodes.empty() && !msgs.empty()) {
    // udp:// nodes first; what they could not answer goes to the HTTP nodes below.
    std::vector<std::size_t> leftover;
    auto u = impl_->udp_check(
        msgs, deadline,
        [&](std::size_t k, protocol::MessageVerdict v) {
          impl_->cache.put(keys[k], v);
          out[index[k]] = std::move(v);
        },
        &leftover);
    if (!u) return u.error();
    std::sort(leftover.begin(), leftover.end());
    std::vector<protocol::MessageSigs> rest_msgs;
    std::vector<std::size_t> rest_index;
    std::vector<std::string> rest_keys;
    for (auto k : leftover) {
      rest_msgs.push_back(std::move(msgs[k]));
      rest_index.push_back(index[k]);
      rest_keys.push_back(std::move(keys[k]));
    }
    msgs = std::move(rest_msgs);
    index = std::move(rest_index);
    keys = std::move(rest_keys);
  }
  auto r = impl_->send_batches<protocol::CheckRequest>(
      msgs, protocol::kPathCheck, false, deadline,
      [&](std::size_t offset, std::size_t end, std::string_view body) -> Result<void> {
        auto resp = protocol::decode_check_response(body);
        if (!resp) return resp.error();
        if (resp->results.size() != end - offset) {
          return make_error(Errc::kMalformed, "wrong number of results");
        }
        for (std::size_t k = 0; k < resp->results.size(); ++k) {
          impl_->cache.put(keys[offset + k], resp->results[k]);
          out[index[offset + k]] = std::move(resp->results[k]);
        }
        return {};
      });
  if (!r) return r.error();
  return out;
}

Result<std::vector<protocol::MessageVerdict>> Client::check(
    std::span<const sigs::SignatureSet> sets) {
  return check(sets, default_deadline());
}

Result<protocol::MessageVerdict> Client::check(const sigs::SignatureSet& set, Deadline deadline) {
  auto r = check(std::span<const sigs::SignatureSet>(&set, 1), deadline);
  if (!r) return r.error();
  return std::move(r->front());
}

Result<protocol::MessageVerdict> Client::check_message(std::string_view raw, Deadline deadline) {
  auto set = signatures(raw);
  if (!set) return set.error();
  return check(*set, deadline);
}

Result<VoteSummary> Client::report(std::span<const sigs::SignatureSet> sets, Deadline deadline) {
  return impl_->vote(sets, protocol::kPathReport, deadline);
}
Result<VoteSummary> Client::report(std::span<const sigs::SignatureSet> sets) {
  return report(sets, default_deadline());
}
Result<VoteSummary> Client::revoke(std::span<const sigs::SignatureSet> sets, Deadline deadline) {
  return impl_->vote(sets, protocol::kPathRevoke, deadline);
}
Result<VoteSummary> Client::revoke(std::span<const sigs::SignatureSet> sets) {
  return revoke(sets, default_deadline());
}

Result<protocol::Identity> Client::register_reporter(const std::string& name,
                                                     std::optional<double> trust,
                                                     Deadline deadline) {
  if (!protocol::valid_reporter_name(name)) {
    return make_error(Errc::kInvalidArgument,
                      "bad reporter name '" + name + "': 1-64 characters of A-Z a-z 0-9 . _ @ + -");
  }
  protocol::RegisterRequest req;
  req.name = name;
  req.trust = trust;
  // Only an admin may choose the trust; that request is signed with the admin's identity.
  const bool sign = trust.has_value();
  auto a = impl_->call("POST", protocol::kPathRegister, protocol::encode(req), sign, deadline);
  if (!a) return a.error();
  if (a->response.status == 409) {
    return make_error(Errc::kExists, "reporter name '" + name + "' is taken at node " +
                                         a->node->transport.url().text);
  }
  if (a->response.status < 200 || a->response.status > 299) {
    auto e = impl_->answer_error(*a);
    auto eb = protocol::decode_error_body(a->response.body);
    if (eb && eb->code == protocol::ApiErrc::kRegistrationClosed) {
      e.message = "node " + a->node->transport.url().text +
                  " does not allow open registration; ask its admin to run "
                  "`strop-node reporter add " +
                  name + " --out FILE`";
    }
    return e;
  }
  auto resp = protocol::decode_register_response(a->response.body);
  if (!resp) {
    return make_error(Errc::kMalformed, "node " + a->node->transport.url().text +
                                            ": bad answer to register: " + resp.error().message);
  }
  protocol::Identity id;
  id.node = a->node->transport.url().text;
  id.reporter = resp->reporter;
  id.secret = resp->secret;
  return id;
}

Result<protocol::StateResponse> Client::state(Deadline deadline) {
  auto a = impl_->call("GET", protocol::kPathState, "", false, deadline);
  if (!a) return a.error();
  if (a->response.status != 200) return impl_->answer_error(*a);
  auto s = protocol::decode_state_response(a->response.body);
  if (!s) {
    return make_error(Errc::kMalformed, "node " + a->node->transport.url().text +
                                            ": bad answer to state: " + s.error().message);
  }
  return s;
}

}  // namespace strop::agent
