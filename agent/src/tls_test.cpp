// TLS of the transport: certificate and host name verification against a local TLS server
// whose self-signed certificate is made here with OpenSSL.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "http_transport.hpp"

namespace strop::agent::detail {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace http = boost::beast::http;

struct KeyAndCert {
  std::string key_pem;
  std::string cert_pem;
};

// A self-signed EC certificate for `cn` with the given subjectAltName ("DNS:x,IP:y").
KeyAndCert make_cert(const std::string& cn, const std::string& san) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_alt_name, san},
                            std::pair{NID_basic_constraints, std::string("critical,CA:TRUE")}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(x, key, EVP_sha256());
  auto to_string = [](BIO* b) {
    char* data = nullptr;
    long n = BIO_get_mem_data(b, &data);
    std::string s(data, static_cast<std::size_t>(n));
    BIO_free(b);
    return s;
  };
  BIO* kb = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(kb, key, nullptr, nullptr, 0, nullptr, nullptr);
  BIO* cb = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(cb, x);
  KeyAndCert out{to_string(kb), to_string(cb)};
  X509_free(x);
  EVP_PKEY_free(key);
  return out;
}

// Answers every request on every connection with 200 {"ok":true} over TLS.
class TlsServer {
 public:
  explicit TlsServer(const KeyAndCert& kc) : ctx_(ssl::context::tls_server), acceptor_(ioc_) {
    ctx_.use_certificate_chain(asio::buffer(kc.cert_pem));
    ctx_.use_private_key(asio::buffer(kc.key_pem), ssl::context::pem);
    asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { loop(); });
  }
  ~TlsServer() {
    stop_ = true;
    try {  // wake the blocking accept
      asio::io_context ioc;
      asio::ip::tcp::socket s(ioc);
      s.connect({asio::ip::make_address("127.0.0.1"), port_});
    } catch (...) {
    }
    thread_.join();
  }
  unsigned short port() const { return port_; }

 private:
  void loop() {
    while (!stop_) {
      boost::system::error_code ec;
      asio::ip::tcp::socket sock(ioc_);
      acceptor_.accept(sock, ec);
      if (ec || stop_) return;
      ssl::stream<asio::ip::tcp::socket> stream(std::move(sock), ctx_);
      stream.handshake(ssl::stream_base::server, ec);
      if (ec) continue;  // the client refused our certificate
      boost::beast::flat_buffer buf;
      for (;;) {
        http::request<http::string_body> req;
        http::read(stream, buf, req, ec);
        if (ec) break;
        http::response<http::string_body> res{http::status::ok, 11};
        res.set(http::field::content_type, "application/json");
        res.body() = "{\"ok\":true}";
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        http::write(stream, res, ec);
        if (ec || !req.keep_alive()) break;
      }
    }
  }

  asio::io_context ioc_;
  ssl::context ctx_;
  asio::ip::tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("strop-tls-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write_ca(const KeyAndCert& kc) {
    auto p = (dir_ / "ca.pem").string();
    std::ofstream(p) << kc.cert_pem;
    return p;
  }

  Result<HttpResponse> get(const std::string& url, const std::string& ca, bool verify = true) {
    auto tls = TlsContext::create(ca, verify);
    if (!tls) return tls.error();
    auto u = parse_node_url(url);
    EXPECT_TRUE(u.ok());
    NodeTransport t(*u, {}, *tls);
    HttpRequest r;
    r.target = "/v1/state";
    auto first = t.exchange(r, Clock::now() + 10s);
    if (!first) return first;
    return t.exchange(r, Clock::now() + 10s);  // over the kept-alive TLS connection
  }

  std::filesystem::path dir_;
};

TEST_F(TlsTest, VerifiesAgainstCaFileByIpAndName) {
  auto kc = make_cert("localhost", "DNS:localhost,IP:127.0.0.1");
  TlsServer server(kc);
  auto ca = write_ca(kc);
  auto by_ip = get("https://127.0.0.1:" + std::to_string(server.port()), ca);
  ASSERT_TRUE(by_ip.ok()) << by_ip.error().to_string();
  EXPECT_EQ(by_ip->status, 200);
  EXPECT_EQ(by_ip->body, "{\"ok\":true}");
  auto by_name = get("https://localhost:" + std::to_string(server.port()), ca);
  ASSERT_TRUE(by_name.ok()) << by_name.error().to_string();
}

TEST_F(TlsTest, UnknownIssuerIsRejected) {
  auto kc = make_cert("localhost", "DNS:localhost,IP:127.0.0.1");
  TlsServer server(kc);
  auto r = get("https://127.0.0.1:" + std::to_string(server.port()), "");  // system store
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kUnavailable);
  EXPECT_NE(r.error().message.find("certificate verify failed"), std::string::npos)
      << r.error().message;
}

TEST_F(TlsTest, HostNameMismatchIsRejected) {
  auto kc = make_cert("other.example", "DNS:other.example");
  TlsServer server(kc);
  auto r = get("https://127.0.0.1:" + std::to_string(server.port()), write_ca(kc));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("TLS"), std::string::npos) << r.error().message;
}

TEST_F(TlsTest, VerificationCanBeSwitchedOff) {
  auto kc = make_cert("other.example", "DNS:other.example");
  TlsServer server(kc);
  auto r = get("https://127.0.0.1:" + std::to_string(server.port()), "", /*verify=*/false);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
}

}  // namespace
}  // namespace strop::agent::detail
