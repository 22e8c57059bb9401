// federation.cpp: the federation puller (node/federation.hpp, docs/federation.md).
#include "node/federation.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <future>

#include "protocol/feed.hpp"
#include "protocol/signing.hpp"

namespace strop::node {

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

// One GET with a deadline over the whole exchange.
Result<FeedResponse> http_get(const Endpoint& ep, const std::string& target,
                              const protocol::AuthHeaders& auth,
                              std::chrono::milliseconds timeout) {
  net::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  auto results = resolver.resolve(ep.host, ep.port, ec);
  if (ec) return make_error(Errc::kUnavailable, "resolve " + ep.host + ": " + ec.message());
  stream.expires_after(timeout);
  stream.connect(results, ec);
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
  http::write(stream, req, ec);
  if (ec) return make_error(Errc::kUnavailable, "send: " + ec.message());
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(protocol::kMaxFeedBody + 4096);
  http::read(stream, buffer, parser, ec);
  if (ec) return make_error(Errc::kUnavailable, "receive: " + ec.message());
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  auto& res = parser.get();
  FeedResponse out;
  out.status = res.result_int();
  auto it = res.find(
      beast::string_view(protocol::kHeaderSignature.data(), protocol::kHeaderSignature.size()));
  if (it != res.end()) out.signature = std::string(it->value());
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
  auto batch = protocol::decode_feed(response.body, limit);
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
  for (auto& e : batch->entries) {
    out.entries.push_back(
        {e.seq, e.listed, std::move(e.sig), e.hop, e.confidence, e.version, std::move(e.origin)});
  }
  if (head != nullptr) *head = batch->head;
  return out;
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
  while (!stopping_) {
    bool busy = false;
    auto peers = store_.list_peers();
    if (!peers) {
      logger()->error("federation: cannot list peers: {}", peers.error().to_string());
    } else {
      for (const auto& p : *peers) {
        if (stopping_) return;
        if (p.reporter.disabled) continue;
        bool more = false;
        auto r = pull_once(p, &more);
        busy = busy || more;
      }
    }
    if (busy) continue;  // a peer had more than one batch waiting: pull again at once
    MutexLock lock(&wake_mu_);
    wake_cv_.wait_for(&wake_mu_, options_.poll_interval, [this] { return stopping_.load(); });
  }
}

Result<std::size_t> FederationPuller::pull_once(const storage::Peer& peer, bool* more) {
  const std::string& name = peer.reporter.name;
  auto fail = [&](const Error& e) -> Result<std::size_t> {
    MutexLock lock(&stats_mu_);
    auto& s = stats_[name];
    ++s.errors;
    if (s.last_error != e.message) logger()->warn("federation: pull from {}: {}", name, e.message);
    s.last_error = e.message;
    return e;
  };
  auto ep = parse_http_url(peer.url);
  if (!ep) return fail(ep.error());
  const std::size_t limit = options_.batch;
  const std::string target = protocol::feed_target(peer.cursor, limit);
  const std::string nonce = protocol::make_nonce();
  const auto now =
      std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  auto auth =
      protocol::sign_request(site_, peer.reporter.secret, "GET", target, "",
                             now.time_since_epoch().count(), nonce, protocol::kPeerSigningScheme);
  auto res = http_get(*ep, target, auth, options_.timeout);
  if (!res) return fail(res.error());
  std::uint64_t head = 0;
  auto batch = accept_feed_response(peer, peer.cursor, limit, nonce, *res, now, &head);
  if (!batch) return fail(batch.error());
  const std::size_t n = batch->entries.size();
  const std::uint64_t cursor = batch->cursor;
  std::promise<Result<storage::PeerBatchOutcome>> done;
  auto applied = done.get_future();
  store_.apply_peer_batch(std::move(*batch), [&done](Result<storage::PeerBatchOutcome> r) {
    done.set_value(std::move(r));
  });
  auto outcome = applied.get();
  if (!outcome) return fail(outcome.error());
  *more = n == limit;
  MutexLock lock(&stats_mu_);
  auto& s = stats_[name];
  s.lag_entries = head > cursor ? head - cursor : 0;
  s.applied += outcome->applied;
  s.last_success = now.time_since_epoch().count();
  if (!s.last_error.empty()) logger()->info("federation: pulling from {} again", name);
  s.last_error.clear();
  return outcome->applied;
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
  family("strop_peer_entries_applied_total", "counter", "Feed entries applied from the peer",
         [](const PeerStats& s) { return s.applied; });
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
