// Razor2 sessions driven without sockets, over the fake store.
#include "razor_session.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "fake_store_test_util.hpp"
#include "sigs/compute.hpp"
#include "sigs/razor.hpp"

namespace strop::node {
namespace {

namespace rz = protocol::razor;

NodeKey test_key() {
  std::array<unsigned char, NodeKey::kBytes> k{};
  k.fill(42);
  return NodeKey::from_bytes(k);
}

constexpr std::string_view kMail =
    "From: Spammer <win@lottery.example>\n"
    "To: you@example.org\n"
    "Subject: You have won\n"
    "Content-Type: text/plain; charset=us-ascii\n"
    "\n"
    "Dear winner, your ticket 4418 has won the grand prize of the international lottery.\n"
    "To claim it, visit http://claim.lottery.example/now and send your bank details today.\n"
    "This offer expires in three days. Act now and become rich beyond your dreams.\n";

class RazorSessionTest : public ::testing::Test {
 protected:
  RazorSessionTest() : accounts_(test_key()) {}

  Config options() {
    Config o;
    o.store.threshold = 50;
    return o;
  }

  std::unique_ptr<RazorService> service(const Config& o) {
    services_.push_back(std::make_unique<SignatureService>(o, store_, metrics_));
    return std::make_unique<RazorService>(*services_.back(), accounts_);
  }

  // Sends `wire` (one or more requests) and returns the replies in order.
  static std::vector<RazorSession::Reply> send(RazorSession& s, std::string wire) {
    std::vector<RazorSession::Reply> out;
    for (;;) {
      std::size_t used = 0;
      auto r = rz::next_request(wire, rz::Limits{}, &used);
      EXPECT_TRUE(r.ok());
      if (!r.ok() || !r->has_value()) break;
      wire.erase(0, used);
      bool called = false;
      s.handle(std::move(**r), [&](RazorSession::Reply rep) {
        called = true;
        out.push_back(std::move(rep));
      });
      EXPECT_TRUE(called);
    }
    EXPECT_TRUE(wire.empty());
    return out;
  }
  static std::string one(RazorSession& s, std::string wire) {
    auto r = send(s, std::move(wire));
    EXPECT_EQ(r.size(), 1u);
    return r.empty() ? std::string() : r[0].bytes;
  }

  // Registers and authenticates alice on `s`.
  void login(RazorSession& s, std::string_view pass = "s3cret") {
    std::string reg = one(s, "a=reg&pass=" + std::string(pass) +
                                 "&registrar=Razor-Agents%20v2.84&user=alice%40example.org\r\n");
    ASSERT_TRUE(reg == "res=1&user=alice%40example.org&pass=" + std::string(pass) + "\r\n" ||
                reg == "err=210\r\n")
        << reg;
    std::string chal = one(s, "a=ai&cn=razor-agents&cv=2.84&user=alice%40example.org\r\n");
    ASSERT_TRUE(chal.starts_with("achal=")) << chal;
    std::string achal(rz::parse_sis(chal)->get("achal"));
    ASSERT_EQ(one(s, "a=auth&aresp=" + rz::auth_response(pass, achal) + "\r\n"), "res=1\r\n");
  }

  static sigs::razor::PreparedMail prepared() { return *sigs::razor::prep_mail(kMail); }
  static sigs::razor::SignedMail signed_mail() {
    return *sigs::razor::sign_mail(kMail, *sigs::razor::parse_ep4("7542-10"));
  }
  static std::string upload_wire() {
    auto p = prepared();
    std::string mail = p.headers;
    for (const auto& part : p.parts) mail += "\r\n" + part;
    return "-a=r&message=*\r\n" + mail + "\r\n.\r\n";
  }

  testing::FakeStore store_;
  RazorAccounts accounts_;
  NodeMetrics metrics_;
  std::vector<std::unique_ptr<SignatureService>> services_;
};

TEST_F(RazorSessionTest, GreetingIdentifyAndState) {
  auto svc = service(options());
  RazorSession s(*svc, "10.0.0.9", "127.0.0.1", 2703);
  EXPECT_EQ(s.greeting(), "sn=C&srl=1&a=l&a=cg&ep4=7542-10\r\n");
  auto replies = send(s, "cn=razor-agents&cv=2.84\r\na=g&pm=state\r\n");
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0].bytes, "");  // identify is never answered
  EXPECT_FALSE(replies[0].close);
  EXPECT_EQ(replies[1].bytes, "ac=50&bql=4&bqs=128&dre=4&ep4=7542-10&se=88&sn=C&srl=1\r\n");
}

TEST_F(RazorSessionTest, QuitIsSilentAndCloses) {
  auto svc = service(options());
  RazorSession s(*svc, "10.0.0.9", "127.0.0.1", 2703);
  auto r = send(s, "a=q\r\n");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].bytes, "");
  EXPECT_TRUE(r[0].close);
}

TEST_F(RazorSessionTest, DiscoveryNamesTheNodeAddress) {
  auto svc = service(options());
  RazorSession s(*svc, "10.0.0.9", "::ffff:192.0.2.7", 2799);
  EXPECT_EQ(one(s, "a=g&pm=csl\r\n"), "csl=192.0.2.7%3A2799\r\n");
  EXPECT_EQ(one(s, "a=g&pm=nsl\r\n"), "nsl=192.0.2.7%3A2799\r\n");

  auto o = options();
  o.razor.advertise = {"razor1.example.org:2703", "10.1.2.3"};
  auto svc2 = service(o);
  RazorSession s2(*svc2, "10.0.0.9", "127.0.0.1", 2703);
  EXPECT_EQ(one(s2, "a=g&pm=csl\r\n"), "-csl=razor1.example.org%3A2703\r\ncsl=10.1.2.3\r\n.\r\n");
}

TEST_F(RazorSessionTest, CheckOfUnknownSignaturesMirrorsFraming) {
  auto svc = service(options());
  RazorSession s(*svc, "10.0.0.9", "127.0.0.1", 2703);
  EXPECT_EQ(one(s, "a=c&e=4&ep4=7542-10&s=kLq0JaBHUsw8FzszKuY8WaMOc7QA\r\n"), "p=0\r\n");
  EXPECT_EQ(
      one(s,
          "-a=c&e=4&ep4=7542-10&s=kLq0JaBHUsw8FzszKuY8WaMOc7QA\r\na=c&e=8&s=V6Mto59WfMkA\r\n.\r\n"),
      "-p=0\r\np=0\r\n.\r\n");
  // Bad values and other engines are simply not spam.
  EXPECT_EQ(one(s, "-a=c&e=4&s=short\r\na=c&e=7&s=V6Mto59WfMkA\r\n.\r\n"), "-p=0\r\np=0\r\n.\r\n");
}

TEST_F(RazorSessionTest, RegisterSealsThePasswordAndRefusesDuplicates) {
  auto svc = service(options());
  RazorSession s(*svc, "10.0.0.9", "127.0.0.1", 2703);
  EXPECT_EQ(one(s, "a=reg&pass=s3cret&registrar=Razor-Agents%20v2.84&user=alice%40example.org\r\n"),
            "res=1&user=alice%40example.org&pass=s3cret\r\n");
  auto rep = store_.find_reporter(std::string_view("alice@example.org"));
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(RazorAccounts::is_sealed(rep->secret));
  EXPECT_EQ(rep->secret.find("s3cret"), std::string::npos);
  EXPECT_EQ(one(s, "a=reg&pass=other&registrar=Razor-Agents%20v2.84&user=alice%40example.org\r\n"),
            "err=210\r\n");

  // Without user and pass, the node picks both and returns them.
  auto gen = rz::parse_sis(one(s, "a=reg&registrar=Razor-Agents%20v2.84\r\n"));
  ASSERT_TRUE(gen.ok());
  EXPECT_EQ(gen->get("res"), "1");
  EXPECT_TRUE(gen->get("user").starts_with("razor-"));
  EXPECT_EQ(gen->get("pass").size(), 20u);
  EXPECT_TRUE(store_.find_reporter(gen->get("user")).ok());

  // Bad names and passwords.
  EXPECT_EQ(one(s, "a=reg&pass=x&registrar=r&user=-bad\r\n"), "err=240\r\n");
  EXPECT_EQ(one(s, "a=reg&pass=" + std::string(60, 'p') + "&registrar=r&user=bob\r\n"),
            "err=240\r\n");
}

TEST_F(RazorSessionTest, RegistrationCanBeClosed) {
  auto o = options();
  o.open_registration = false;
  auto svc = service(o);
  RazorSession s(*svc, "10.0.0.9", "127.0.0.1", 2703);
  EXPECT_EQ(one(s, "a=reg&pass=s3cret&registrar=r&user=alice\r\n"), "err=242\r\n");
}

TEST_F(RazorSessionTest, ChallengeResponse) {
  auto svc = service(options());
  RazorSession s(*svc, "10.0.0.9", "127.0.0.1", 2703);
  EXPECT_EQ(one(s, "a=ai&cn=razor-agents&cv=2.84&user=nobody\r\n"), "err=213\r\n");
  login(s);
  // A wrong response fails; three failures close the connection.
  RazorSession t(*svc, "10.0.0.9", "127.0.0.1", 2703);
  for (int i = 1; i <= RazorSession::kMaxAuthFailures; ++i) {
    auto chal = rz::parse_sis(one(t, "a=ai&cn=razor-agents&cv=2.84&user=alice%40example.org\r\n"));
    auto r = send(t, "a=auth&aresp=" + rz::auth_response("wrong", chal->get("achal")) + "\r\n");
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].bytes, "res=0\r\n");
    EXPECT_EQ(r[0].close, i == RazorSession::kMaxAuthFailures);
  }
  // An a=auth without a challenge fails too.
  RazorSession u(*svc, "10.0.0.9", "127.0.0.1", 2703);
  EXPECT_EQ(one(u, "a=auth&aresp=xILzpimeXYbXF_7s0JrDEgNNEdIA\r\n"), "res=0\r\n");
}

TEST_F(RazorSessionTest, NativeReportersAuthenticateWithTheirSecret) {
  storage::ReporterSpec spec;
  spec.name = "carol";
  spec.secret = "carol-native-secret";
  ASSERT_TRUE(store_.add_reporter(spec).ok());
  auto svc = service(options());
  RazorSession s(*svc, "10.0.0.9", "127.0.0.1", 2703);
  auto chal = rz::parse_sis(one(s, "a=ai&cn=razor-agents&cv=2.84&user=carol\r\n"));
  EXPECT_EQ(one(s, "a=auth&aresp=" + rz::auth_response("carol-native-secret", chal->get("achal")) +
                       "\r\n"),
            "res=1\r\n");
}

TEST_F(RazorSessionTest, ReportNeedsAuthenticationThenTheMail) {
  auto svc = service(options());
  auto mail = signed_mail();
  ASSERT_FALSE(mail.parts.empty());
  const std::string e4 = mail.parts[0].e4;
  const std::vector<std::string> e8 = mail.parts[0].e8;
  ASSERT_FALSE(e8.empty());

  RazorSession anon(*svc, "10.0.0.9", "127.0.0.1", 2703);
  EXPECT_EQ(one(anon, "a=r&e=4&ep4=7542-10&s=" + e4 + "\r\n"), "err=241\r\n");
  EXPECT_EQ(one(anon, upload_wire()), "err=241\r\n");
  EXPECT_EQ(one(anon, "a=revoke&e=4&s=" + e4 + "\r\n"), "err=241\r\n");

  RazorSession s(*svc, "10.0.0.9", "127.0.0.1", 2703);
  login(s);
  EXPECT_EQ(one(s, "a=r&e=4&ep4=7542-10&s=" + e4 + "\r\n"), "err=230\r\n");
  EXPECT_EQ(one(s, upload_wire()), "res=1\r\n");

  // The node re-derived e4, e8, the native engines and pyzor from the uploaded part.
  auto alice = store_.find_reporter(std::string_view("alice@example.org"));
  auto has = [&](sigs::Engine e, const std::string& v) {
    sigs::Signature sig{e, v};
    auto out = store_.check(std::span<const sigs::Signature>(&sig, 1));
    return out.ok() && !out->matches.empty();
  };
  EXPECT_TRUE(has(sigs::Engine::kRazorE4, e4));
  for (const auto& x : e8) EXPECT_TRUE(has(sigs::Engine::kRazorE8, x));
  auto native = sigs::compute(kMail, [] {
    sigs::Options o;
    o.engines = sigs::EngineMask::all();
    return o;
  }());
  ASSERT_TRUE(native.ok());
  for (const auto* b : native->of(sigs::Engine::kBody))
    EXPECT_TRUE(has(sigs::Engine::kBody, b->value));
  for (const auto* p : native->of(sigs::Engine::kPyzor))
    EXPECT_TRUE(has(sigs::Engine::kPyzor, p->value));

  // A client checking the mail now finds it.
  EXPECT_EQ(one(anon, "-a=c&e=4&ep4=7542-10&s=" + e4 + "\r\na=c&e=8&s=" + e8[0] + "\r\n.\r\n"),
            "-cf=60&p=1\r\ncf=60&p=1\r\n.\r\n");
  // ...but not under another ep4 (e4 values are keyed by the node's ep4).
  EXPECT_EQ(one(anon, "a=c&e=4&ep4=99-10-13&s=" + e4 + "\r\n"), "p=0\r\n");

  // Revoke (no ep4, all engines) withdraws the report.
  EXPECT_EQ(one(s, "-a=revoke&e=4&s=" + e4 + "\r\na=revoke&e=8&s=" + e8[0] + "\r\n.\r\n"),
            "-res=1\r\nres=1\r\n.\r\n");
  EXPECT_EQ(one(anon, "a=c&e=4&ep4=7542-10&s=" + e4 + "\r\n"), "p=0\r\n");
}

TEST_F(RazorSessionTest, StoreFailuresAreErrLines) {
  auto svc = service(options());
  RazorSession s(*svc, "10.0.0.9", "127.0.0.1", 2703);
  login(s);
  store_.unavailable = true;
  EXPECT_EQ(one(s, upload_wire()), "err=244\r\n");
  EXPECT_EQ(one(s, "a=revoke&e=8&s=V6Mto59WfMkA\r\n"), "err=244\r\n");
}

TEST_F(RazorSessionTest, ReplyWaitsForTheCommit) {
  auto svc = service(options());
  RazorSession s(*svc, "10.0.0.9", "127.0.0.1", 2703);
  login(s);
  store_.defer = true;
  std::size_t used = 0;
  std::string wire = upload_wire();
  auto req = rz::next_request(wire, rz::Limits{}, &used);
  ASSERT_TRUE(req.ok() && req->has_value());
  std::optional<RazorSession::Reply> got;
  s.handle(std::move(**req), [&](RazorSession::Reply r) { got = std::move(r); });
  EXPECT_FALSE(got.has_value());
  store_.release();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->bytes, "res=1\r\n");
}

TEST_F(RazorSessionTest, IpRateLimit) {
  auto o = options();
  o.ip_limit = {1, 2};
  std::int64_t now = 0;
  SignatureService core(o, store_, metrics_, Clocks{nullptr, [&now] { return now; }});
  auto svc = std::make_unique<RazorService>(core, accounts_);
  RazorSession s(*svc, "10.0.0.9", "127.0.0.1", 2703);
  EXPECT_EQ(one(s, "a=g&pm=state\r\n").substr(0, 3), "ac=");
  EXPECT_EQ(one(s, "a=c&e=8&s=V6Mto59WfMkA\r\n"), "p=0\r\n");
  EXPECT_EQ(one(s, "-a=c&e=8&s=V6Mto59WfMkA\r\na=c&e=8&s=V6Mto59WfMkA\r\n.\r\n"),
            "-err=244\r\nerr=244\r\n.\r\n");
  // cn= and a=q cost nothing and stay silent.
  auto r = send(s, "cn=razor-agents&cv=2.84\r\n");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].bytes, "");
  now += 2'000'000'000;
  EXPECT_EQ(one(s, "a=c&e=8&s=V6Mto59WfMkA\r\n"), "p=0\r\n");
}

TEST_F(RazorSessionTest, UploadSignaturesOfAMultipartMail) {
  auto svc = service(options());
  std::string mail =
      "From: a@b.example\nSubject: offer\nMIME-Version: 1.0\n"
      "Content-Type: multipart/alternative; boundary=\"XX\"\n\n--XX\nContent-Type: text/plain\n\n"
      "Cheap watches and replica bags at http://replica.example/shop today only, order now.\n"
      "--XX\nContent-Type: text/html\n\n<p>Cheap watches and replica bags at "
      "<a href=\"http://replica.example/shop\">our shop</a> today only, order now.</p>\n--XX--\n";
  auto prep = sigs::razor::prep_mail(mail);
  ASSERT_TRUE(prep.ok());
  ASSERT_EQ(prep->parts.size(), 2u);
  std::string up = prep->headers;
  for (const auto& p : prep->parts) up += "\r\n" + p;
  auto sigs = svc->upload_signatures(up);
  auto signed_mail = sigs::razor::sign_mail(mail, svc->ep4());
  ASSERT_TRUE(signed_mail.ok());
  for (const auto& part : signed_mail->parts) {
    if (part.skipme) continue;
    EXPECT_NE(std::find(sigs.begin(), sigs.end(), sigs::Signature{sigs::Engine::kRazorE4, part.e4}),
              sigs.end());
    for (const auto& e8 : part.e8) {
      EXPECT_NE(std::find(sigs.begin(), sigs.end(), sigs::Signature{sigs::Engine::kRazorE8, e8}),
                sigs.end());
    }
  }
  bool fuzzy = std::any_of(sigs.begin(), sigs.end(), [](const sigs::Signature& s) {
    return s.engine == sigs::Engine::kFuzzy;
  });
  EXPECT_TRUE(fuzzy);
  EXPECT_TRUE(std::is_sorted(sigs.begin(), sigs.end()));
}

}  // namespace
}  // namespace strop::node
