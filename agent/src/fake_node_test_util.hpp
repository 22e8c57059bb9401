// fake_node_test_util.hpp: a tiny HTTP/1.1 server on 127.0.0.1 and a free port, for the agent
// unit tests (failover, deadlines, keep-alive). Header-only, test code only.
//
// The server runs its own io_context on one background thread; the handler is called on that
// thread. Mode::kSilent accepts connections and reads requests but never answers (a hung
// node); Mode::kGarbage answers every request with bytes that are not HTTP. The destructor stops
// the thread and closes every connection.
#pragma once

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/mutex.hpp"

namespace strop::agent::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

struct FakeRequest {
  std::string method;
  std::string target;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  std::string header(const std::string& name) const {
    for (const auto& [n, v] : headers) {
      if (beast::iequals(n, name)) return v;
    }
    return {};
  }
};

struct FakeResponse {
  int status = 200;
  std::string body = "{}";
  std::string content_type = "application/json";
  bool close = false;  // send Connection: close
  bool drop = false;   // advertise keep-alive but close the socket after the response
};

class FakeNode {
 public:
  enum class Mode { kServe, kSilent, kGarbage };
  using Handler = std::function<FakeResponse(const FakeRequest&)>;

  explicit FakeNode(Handler handler, Mode mode = Mode::kServe)
      : handler_(std::move(handler)), mode_(mode), acceptor_(ioc_) {
    asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    accept();
    thread_ = std::thread([this] { ioc_.run(); });
  }

  ~FakeNode() {
    ioc_.stop();
    thread_.join();
  }

  FakeNode(const FakeNode&) = delete;
  FakeNode& operator=(const FakeNode&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  unsigned short port() const { return port_; }
  int requests() const { return requests_.load(); }
  int connections() const { return connections_.load(); }
  std::vector<FakeRequest> received() const {
    MutexLock lock(&mu_);
    return received_;
  }

  // A URL on which nothing listens (a port that was just free).
  static std::string closed_url() {
    asio::io_context ioc;
    asio::ip::tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    auto port = a.local_endpoint().port();
    a.close();
    return "http://127.0.0.1:" + std::to_string(port);
  }

 private:
  struct Session : std::enable_shared_from_this<Session> {
    Session(FakeNode* o, asio::ip::tcp::socket s) : owner(o), socket(std::move(s)) {}
    FakeNode* owner;
    asio::ip::tcp::socket socket;
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    http::response<http::string_body> res;
    bool drop = false;

    void read() {
      req = {};
      http::async_read(socket, buffer, req,
                       [self = shared_from_this()](beast::error_code ec, std::size_t) {
                         if (ec) return;
                         self->on_request();
                       });
    }
    void on_request() {
      owner->requests_++;
      FakeRequest fr;
      fr.method = std::string(req.method_string());
      fr.target = std::string(req.target());
      fr.body = req.body();
      for (const auto& f : req)
        fr.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      {
        MutexLock lock(&owner->mu_);
        owner->received_.push_back(fr);
      }
      if (owner->mode_ == Mode::kSilent) {
        read();  // keep reading, never answer
        return;
      }
      if (owner->mode_ == Mode::kGarbage) {
        auto junk = std::make_shared<std::string>("SSH-2.0-OpenSSH_9.2\r\n\r\n");
        asio::async_write(socket, asio::buffer(*junk),
                          [self = shared_from_this(), junk](beast::error_code, std::size_t) {});
        return;
      }
      FakeResponse r = owner->handler_(fr);
      drop = r.drop;
      res = {};
      res.version(11);
      res.result(static_cast<unsigned>(r.status));
      res.set(http::field::content_type, r.content_type);
      res.keep_alive(!r.close && req.keep_alive());
      res.body() = r.body;
      res.prepare_payload();
      http::async_write(socket, res,
                        [self = shared_from_this()](beast::error_code ec, std::size_t) {
                          if (ec) return;
                          if (!self->res.keep_alive() || self->drop) {
                            beast::error_code ignored;
                            self->socket.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
                            return;
                          }
                          self->read();
                        });
    }
  };

  void accept() {
    acceptor_.async_accept([this](beast::error_code ec, asio::ip::tcp::socket s) {
      if (ec) return;
      connections_++;
      std::make_shared<Session>(this, std::move(s))->read();
      accept();
    });
  }

  Handler handler_;
  Mode mode_;
  asio::io_context ioc_;
  asio::ip::tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::thread thread_;
  std::atomic<int> requests_{0};
  std::atomic<int> connections_{0};
  mutable Mutex mu_;
  std::vector<FakeRequest> received_ GUARDED_BY(mu_);
};

}  // namespace strop::agent::testing
