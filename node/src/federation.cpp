// federation.cpp: the federation puller (node/federation.hpp, docs/federation.md).
#include "node/federation.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <future>
#include <memory>

#include "node/fleet.hpp"
#include "protocol/feed.hpp"
#include "protocol/fleet_event.hpp"
#include "protocol/signing.hpp"

namespace strop::node {

protocol::FeedWireEntry to_wire(storage::FeedEntry e) {
  return {e.seq, e.listed, std::move(e.sig), e.hop, e.confidence, e.version, std::move(e.origin)};
}

storage::FeedEntry from_wire(protocol::FeedWireEntry e) {
  return {e.seq, e.listed, std::move(e.sig), e.hop, e.confidence, e.version, std::move(e.origin)};
}

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

std::shared_ptr<spdlog::logger> logger() {
  auto l = spdlog::get("node");
  return l ? l : spdlog::default_logger();
}

struct Endpoint {
  std::string host;
  std::string port;
};

// "http://HOST:PORT[/...]" (IPv6 as [ADDR]); https is not spoken yet.
Result<Endpoint> parse_http_url(std::string_view url) {
  if (url.starts_with("https://")) {
    return make_error(Errc::kInvalidArgument,
                      "https peers are not supported yet: use http:// on a private network or "
                      "a TLS tunnel (docs/federation.md)");
  }
  if (!url.starts_with("http://"))
    return make_error(Errc::kInvalidArgument, "peer url: not http://");
  std::string_view rest = url.substr(7);
  rest = rest.substr(0, rest.find('/'));
  Endpoint e;
  if (rest.starts_with("[")) {
    auto close = rest.find(']');
    if (close == std::string_view::npos)
      return make_error(Errc::kInvalidArgument, "peer url: bad host");
    e.host = std::string(rest.substr(1, close - 1));
    rest = rest.substr(close + 1);
    e.port = rest.starts_with(":") ? std::string(rest.substr(1)) : "80";
  } else {
    auto colon = rest.rfind(':');
    e.host = std::string(rest.substr(0, colon));
    e.port = colon == std::string_view::npos ? "80" : std::string(rest.substr(colon + 1));
  }
  if (e.host.empty() || e.port.empty())
    return make_error(Errc::kInvalidArgument, "peer url: bad host");
  return e;
}

// One GET with a deadline over the whole exchange. Asynchronous under the hood so that a
// long poll in flight ends within 200 ms of `stopping`.
Result<FeedResponse> http_get(const Endpoint& ep, const std::string& target,
                              const protocol::AuthHeaders& auth, std::chrono::milliseconds timeout,
                              bool gzip, const std::atomic<bool>& stopping) {
  net::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  auto results = resolver.resolve(ep.host, ep.port, ec);
  if (ec) return make_error(Errc::kUnavailable, "resolve " + ep.host + ": " + ec.message());
  bool finished = false;
  // Runs the io_context until the operation in flight completes; false when stopping first.
  auto run = [&] {
    ioc.restart();
    while (!finished) {
      if (stopping) return false;
      ioc.run_for(std::chrono::milliseconds(200));
    }
    finished = false;
    return true;
  };
  const auto stopped = [] { return make_error(Errc::kUnavailable, "the puller stops"); };
  stream.expires_after(timeout);
  stream.async_connect(results, [&](beast::error_code e, const tcp::endpoint&) {
    ec = e;
    finished = true;
  });
  if (!run()) return stopped();
  if (ec)
    return make_error(Errc::kUnavailable,
                      "connect " + ep.host + ":" + ep.port + ": " + ec.message());
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, ep.host);
  req.set(http::field::user_agent, "strop-node federation");
  auto hdr = [&](std::string_view name, const std::string& value) {
    req.set(beast::string_view(name.data(), name.size()), value);
  };
  hdr(protocol::kHeaderPeer, auth.reporter);
  hdr(protocol::kHeaderTimestamp, auth.timestamp);
  hdr(protocol::kHeaderNonce, auth.nonce);
  hdr(protocol::kHeaderSignature, auth.signature);
  if (gzip) req.set(http::field::accept_encoding, "gzip");
  http::async_write(stream, req, [&](beast::error_code e, std::size_t) {
    ec = e;
    finished = true;
  });
  if (!run()) return stopped();
  if (ec) return make_error(Errc::kUnavailable, "send: " + ec.message());
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(protocol::kMaxFeedBody + 4096);
  http::async_read(stream, buffer, parser, [&](beast::error_code e, std::size_t) {
    ec = e;
    finished = true;
  });
  if (!run()) return stopped();
  if (ec) return make_error(Errc::kUnavailable, "receive: " + ec.message());
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  auto& res = parser.get();
  FeedResponse out;
  out.status = res.result_int();
  auto it = res.find(
      beast::string_view(protocol::kHeaderSignature.data(), protocol::kHeaderSignature.size()));
  if (it != res.end()) out.signature = std::string(it->value());
  it = res.find(http::field::content_encoding);
  if (it != res.end()) out.content_encoding = std::string(it->value());
  out.body = std::move(res.body());
  return out;
}

}  // namespace

Result<storage::PeerBatch> accept_feed_response(const storage::Peer& peer, std::uint64_t after,
                                                std::size_t limit, std::string_view nonce,
                                                const FeedResponse& response,
                                                storage::TimePoint now, std::uint64_t* head) {
  if (response.status != 200) {
    std::string why = response.body.substr(0, 200);
    return make_error(Errc::kUnavailable,
                      "peer answered " + std::to_string(response.status) + ": " + why);
  }
  if (!protocol::verify_feed_response(peer.reporter.secret, response.status, nonce, response.body,
                                      response.signature)) {
    return make_error(Errc::kUnauthorized,
                      "the feed response's signature does not verify (tampered, replayed or "
                      "another secret): batch refused");
  }
  auto batch = protocol::decode_feed_body(response.body, response.content_encoding, limit);
  if (!batch) return batch.error();
  if (!batch->entries.empty() && batch->entries.front().seq <= after) {
    return make_error(Errc::kInvalidArgument, "feed entries at or before the cursor");
  }
  storage::PeerBatch out;
  out.peer = peer.reporter.id;
  out.after = after;
  out.cursor = batch->entries.empty() ? after : batch->entries.back().seq;
  out.now = now;
  out.entries.reserve(batch->entries.size());
  for (auto& e : batch->entries) out.entries.push_back(from_wire(std::move(e)));
  if (head != nullptr) *head = batch->head;
  return out;
}

void record_pull_success(PeerStats& s, std::uint64_t cursor, std::uint64_t head,
                         std::uint64_t applied, std::int64_t now) {
  if (s.first_attempt == 0) s.first_attempt = now;
  s.lag_entries = head > cursor ? head - cursor : 0;
  s.applied += applied;
  s.last_success = now;
  s.last_error.clear();
  // The pull started at `now` and the peer read its head after that: everything the peer
  // had at `now` is held here when the cursor reached that head.
  s.caught_up = cursor >= head;
  if (s.caught_up) s.caught_up_at = now;
}

void record_pull_failure(PeerStats& s, std::string message, std::int64_t now) {
  if (s.first_attempt == 0) s.first_attempt = now;
  ++s.errors;
  s.last_error = std::move(message);
  // What the peer holds now is unknown: no longer known to be caught up.
  s.caught_up = false;
}

std::int64_t lag_seconds(const PeerStats& s, std::int64_t now) {
  if (s.caught_up) return 0;
  const std::int64_t since = s.caught_up_at != 0 ? s.caught_up_at : s.first_attempt;
  if (since == 0) return 0;
  return now > since ? now - since : 0;
}

bool FederationPuller::pulling() {
  if (fleet_ == nullptr) return true;
  // Cut off from the log, a batch could not be published: pulling would only load the peer.
  // (Such a member hears no beats either, so the election alone would say "pull".)
  const bool now = fleet_->metrics().connected.value() == 1 &&
                   fleet_member_elected(fleet_->origin(), fleet_->members());
  if (now != was_pulling_.exchange(now)) {
    logger()->info(now ? "federation: this member pulls the fleet's peers now"
                       : "federation: another fleet member pulls the peers now");
  }
  return now;
}

FederationPuller::FederationPuller(storage::Store& store, const Config& config)
    : store_(store), site_(config.store.federation_site), options_(config.federation) {}

FederationPuller::~FederationPuller() { stop(); }

void FederationPuller::start() {
  thread_ = std::thread([this] {
    try {
      run();
    } catch (const std::exception& e) {
      logger()->critical("federation puller stopped: {}", e.what());
    }
  });
}

void FederationPuller::stop() {
  stopping_ = true;
  {
    MutexLock lock(&wake_mu_);
    wake_cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void FederationPuller::run() {
  // One follower thread per enabled peer, so that a long poll at one peer never delays
  // another; a follower ends by itself when its peer is removed or disabled.
  struct Follower {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> ended;
  };
  std::map<std::string, Follower> followers;
  while (!stopping_) {
    auto peers = store_.list_peers();
    if (!peers) {
      logger()->error("federation: cannot list peers: {}", peers.error().to_string());
    } else {
      for (const auto& p : *peers) {
        if (p.reporter.disabled) continue;
        const std::string& name = p.reporter.name;
        auto it = followers.find(name);
        if (it != followers.end() && it->second.ended->load()) {
          it->second.thread.join();
          followers.erase(it);
          it = followers.end();
        }
        if (it != followers.end()) continue;
        auto ended = std::make_shared<std::atomic<bool>>(false);
        followers[name] = {std::thread([this, name, ended] {
                             try {
                               follow(name);
                             } catch (const std::exception& e) {
                               logger()->critical("federation: following {} stopped: {}", name,
                                                  e.what());
                             }
                             *ended = true;
                           }),
                           ended};
      }
    }
    MutexLock lock(&wake_mu_);
    wake_cv_.wait_for(&wake_mu_, options_.poll_interval, [this] { return stopping_.load(); });
  }
  for (auto& [name, f] : followers) f.thread.join();
}

void FederationPuller::follow(const std::string& name) {
  while (!stopping_) {
    auto peers = store_.list_peers();  // the cursor, url, secret and state, fresh every pull
    if (!peers) return;
    auto p = std::find_if(peers->begin(), peers->end(),
                          [&](const storage::Peer& x) { return x.reporter.name == name; });
    if (p == peers->end() || p->reporter.disabled) return;
    if (!pulling()) {  // in a fleet, another member pulls (and this one takes over if it goes)
      MutexLock lock(&wake_mu_);
      wake_cv_.wait_for(&wake_mu_, options_.poll_interval, [this] { return stopping_.load(); });
      continue;
    }
    const auto t0 = std::chrono::steady_clock::now();
    bool more = false;
    std::size_t received = 0;
    auto r = pull_once(*p, &more, &received);
    // Again at once: a full batch waiting, entries just arrived, or a long poll that waited
    // at the peer (its wait ended empty). Otherwise (an error, a plain poll, a peer that
    // answered a long poll at once, empty) after poll_interval.
    const auto waited = std::chrono::steady_clock::now() - t0;
    if (r &&
        (more || received > 0 ||
         (options_.long_poll_s > 0 && waited >= std::chrono::seconds(options_.long_poll_s) / 2)))
      continue;
    MutexLock lock(&wake_mu_);
    wake_cv_.wait_for(&wake_mu_, options_.poll_interval, [this] { return stopping_.load(); });
  }
}

Result<std::size_t> FederationPuller::pull_once(const storage::Peer& peer, bool* more,
                                                std::size_t* received) {
  const std::string& name = peer.reporter.name;
  const auto now =
      std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  const std::int64_t now_s = now.time_since_epoch().count();
  auto fail = [&](const Error& e) -> Result<std::size_t> {
    MutexLock lock(&stats_mu_);
    auto& s = stats_[name];
    if (s.last_error != e.message) logger()->warn("federation: pull from {}: {}", name, e.message);
    record_pull_failure(s, e.message, now_s);
    return e;
  };
  auto ep = parse_http_url(peer.url);
  if (!ep) return fail(ep.error());
  // In a fleet a batch is one log event: at most kMaxFleetPeerEntries entries.
  const std::size_t limit =
      fleet_ != nullptr ? std::min<std::size_t>(options_.batch, protocol::kMaxFleetPeerEntries)
                        : options_.batch;
  const std::string target = protocol::feed_target(peer.cursor, limit, options_.long_poll_s);
  const std::string nonce = protocol::make_nonce();
  auto auth =
      protocol::sign_request(site_, peer.reporter.secret, "GET", target, "",
                             now.time_since_epoch().count(), nonce, protocol::kPeerSigningScheme);
  // A long poll may wait long_poll_s at the peer before its answer starts.
  auto res =
      http_get(*ep, target, auth, options_.timeout + std::chrono::seconds(options_.long_poll_s),
               options_.gzip, stopping_);
  if (!res) return fail(res.error());
  {
    MutexLock lock(&stats_mu_);
    stats_[name].bytes += res->body.size();
  }
  std::uint64_t head = 0;
  auto batch = accept_feed_response(peer, peer.cursor, limit, nonce, *res, now, &head);
  if (!batch) return fail(batch.error());
  const std::size_t n = batch->entries.size();
  *received = n;
  const std::uint64_t cursor = batch->cursor;
  auto outcome = apply(peer, std::move(*batch), now_s);
  if (!outcome) return fail(outcome.error());
  *more = n == limit;
  MutexLock lock(&stats_mu_);
  auto& s = stats_[name];
  if (!s.last_error.empty()) logger()->info("federation: pulling from {} again", name);
  record_pull_success(s, cursor, head, outcome->applied, now_s);
  return outcome->applied;
}

Result<storage::PeerBatchOutcome> FederationPuller::apply(const storage::Peer& peer,
                                                          storage::PeerBatch batch,
                                                          std::int64_t now_s) {
  if (fleet_ == nullptr) {
    std::promise<Result<storage::PeerBatchOutcome>> done;
    auto applied = done.get_future();
    store_.apply_peer_batch(std::move(batch), [&done](Result<storage::PeerBatchOutcome> r) {
      done.set_value(std::move(r));
    });
    return applied.get();
  }
  // An empty batch changes nothing but the last-success time: not worth a log event per poll.
  if (batch.entries.empty()) return storage::PeerBatchOutcome{};
  // One event of the log: every member applies it, with the cursor, in log order, at the
  // event's time (now_s). The cursor read above is this node's applied state; when another
  // member's pull of the same `after` got into the log first (a hand-over), the event is
  // skipped on every member and the next pull starts from the moved cursor.
  protocol::FleetPeerBatch e;
  e.peer = peer.reporter.name;
  e.after = batch.after;
  e.cursor = batch.cursor;
  e.entries.reserve(batch.entries.size());
  for (auto& x : batch.entries) e.entries.push_back(to_wire(std::move(x)));
  auto r = fleet_->submit_and_wait(std::move(e), now_s);
  if (!r) return r.error();
  if (r->stale_batch) {
    logger()->info("federation: batch from {} after {} was applied already (hand-over); skipped",
                   peer.reporter.name, batch.after);
    return storage::PeerBatchOutcome{};
  }
  if (r->refused) return *r->refused;
  return r->batch;
}

std::string FederationPuller::render_metrics() const {
  std::map<std::string, PeerStats> stats;
  {
    MutexLock lock(&stats_mu_);
    stats = stats_;
  }
  std::string out;
  auto family = [&](const char* name, const char* type, const char* help, auto value) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    for (const auto& [peer, s] : stats) {
      out += std::string(name) + "{peer=\"" + peer + "\"} " + std::to_string(value(s)) + "\n";
    }
  };
  family("strop_peer_lag_entries", "gauge", "Entries of the peer's feed not applied here yet",
         [](const PeerStats& s) { return s.lag_entries; });
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  family("strop_peer_lag_seconds", "gauge",
         "Seconds since this site last held everything the peer had (0: caught up)",
         [now](const PeerStats& s) { return lag_seconds(s, now); });
  family("strop_peer_entries_applied_total", "counter", "Feed entries applied from the peer",
         [](const PeerStats& s) { return s.applied; });
  family("strop_peer_bytes_received_total", "counter",
         "Feed response body bytes received from the peer, as sent (gzip or not)",
         [](const PeerStats& s) { return s.bytes; });
  family("strop_peer_errors_total", "counter", "Failed pulls from the peer",
         [](const PeerStats& s) { return s.errors; });
  family("strop_peer_last_success_timestamp_seconds", "gauge",
         "Unix time of the last batch applied from the peer",
         [](const PeerStats& s) { return s.last_success; });
  return out;
}

std::map<std::string, PeerStats> FederationPuller::peer_stats() const {
  MutexLock lock(&stats_mu_);
  return stats_;
}

}  // namespace strop::node
