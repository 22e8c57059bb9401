#include "protocol/razor_wire.hpp"

#include <gtest/gtest.h>

namespace strop::protocol::razor {
namespace {

std::optional<Request> next(std::string_view buf, std::size_t* used, const Limits& l = {}) {
  auto r = next_request(buf, l, used);
  EXPECT_TRUE(r.ok()) << r.error().to_string();
  return r.ok() ? *r : std::nullopt;
}

TEST(RazorWire, EscapeMatchesUriEscape) {
  EXPECT_EQ(url_escape("alice@example.org"), "alice%40example.org");
  EXPECT_EQ(url_escape("127.0.0.1:2703"), "127.0.0.1%3A2703");
  EXPECT_EQ(url_escape("Razor-Agents v2.84"), "Razor-Agents%20v2.84");
  EXPECT_EQ(url_escape("a=b&c%\r\n~_-."), "a%3Db%26c%25%0D%0A~_-.");
  EXPECT_EQ(url_unescape("alice%40example.org"), "alice@example.org");
  EXPECT_EQ(url_unescape("%3a%3A"), "::");
  EXPECT_EQ(url_unescape("100%"), "100%");
  EXPECT_EQ(url_unescape("%zz%4"), "%zz%4");
}

TEST(RazorWire, ParseSisFollowsParsesis) {
  auto s = parse_sis("sn=C&srl=1&a=l&a=cg&ep4=7542-10\r\n");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->get("a"), "cg");  // a later duplicate wins
  EXPECT_EQ(s->get("sn"), "C");
  EXPECT_EQ(s->get("ep4"), "7542-10");
  EXPECT_FALSE(s->has("zz"));

  auto t = parse_sis("a=b=c&d&e=&user=alice%40example.org\n");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->get("a"), "b");  // cut at the second raw '='
  EXPECT_TRUE(t->has("d"));
  EXPECT_EQ(t->get("d"), "");
  EXPECT_EQ(t->get("e"), "");
  EXPECT_EQ(t->get("user"), "alice@example.org");

  auto raw = parse_sis("s=a%41", false);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->get("s"), "a%41");

  Limits l;
  l.max_pairs = 3;
  EXPECT_FALSE(parse_sis("a=1&b=2&c=3&d=4", true, l).ok());
}

TEST(RazorWire, MakeSisEscapesValues) {
  Sis s;
  s.add("csl", "127.0.0.1:2703");
  EXPECT_EQ(make_sis(s), "csl=127.0.0.1%3A2703\r\n");
  Sis r;
  r.add("res", "1").add("user", "alice@example.org").add("pass", "s3cret");
  EXPECT_EQ(make_sis(r), "res=1&user=alice%40example.org&pass=s3cret\r\n");
}

TEST(RazorWire, SingleLineAndPartialInput) {
  std::size_t used = 0;
  EXPECT_FALSE(next("a=g&pm=st", &used).has_value());
  EXPECT_EQ(used, 0u);
  auto r = next("a=g&pm=state\r\nrest", &used);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->framing, Framing::kSingle);
  ASSERT_EQ(r->queries.size(), 1u);
  EXPECT_EQ(classify(r->queries[0]), Action::kGetState);
  EXPECT_EQ(used, 14u);
}

TEST(RazorWire, IdentifyAndStateArriveTogether) {
  std::string buf = "cn=razor-agents&cv=2.84\r\na=g&pm=state\r\n";
  std::size_t used = 0;
  auto a = next(buf, &used);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(classify(a->queries[0]), Action::kIdentify);
  buf.erase(0, used);
  auto b = next(buf, &used);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(classify(b->queries[0]), Action::kGetState);
  EXPECT_EQ(used, buf.size());
}

TEST(RazorWire, CheckBatch) {
  std::string buf =
      "-a=c&e=4&ep4=7542-10&s=kLq0JaBHUsw8FzszKuY8WaMOc7QA\r\na=c&e=8&s=V6Mto59WfMkA\r\n.\r\n";
  std::size_t used = 0;
  EXPECT_FALSE(next(buf.substr(0, buf.size() - 1), &used).has_value());
  auto r = next(buf, &used);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(used, buf.size());
  EXPECT_EQ(r->framing, Framing::kBatch);
  ASSERT_EQ(r->queries.size(), 2u);
  EXPECT_EQ(classify(r->queries[0]), Action::kCheck);
  EXPECT_EQ(r->queries[0].get("e"), "4");
  EXPECT_EQ(r->queries[0].get("ep4"), "7542-10");
  EXPECT_EQ(r->queries[0].get("s"), "kLq0JaBHUsw8FzszKuY8WaMOc7QA");
  EXPECT_EQ(r->queries[1].get("e"), "8");
  EXPECT_EQ(r->queries[1].get("s"), "V6Mto59WfMkA");
}

TEST(RazorWire, UploadKeepsTheMailVerbatim) {
  std::string mail =
      "Return-Path: <a@b.c>\nSubject: hi\n\r\nX-Razor2-Agent: Razor-Agents v2.84\n"
      "Content-Type: text/plain\n\nbody line\n.\nnot the end\n";
  std::string buf = "-a=r&message=*\r\n" + mail + "\r\n.\r\na=q\r\n";
  std::size_t used = 0;
  auto r = next(buf, &used);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->framing, Framing::kUpload);
  ASSERT_EQ(r->queries.size(), 1u);
  EXPECT_EQ(classify(r->queries[0]), Action::kReportUpload);
  EXPECT_EQ(r->queries[0].get("message"), mail);
  EXPECT_EQ(buf.substr(used), "a=q\r\n");
}

TEST(RazorWire, TemplateBatch) {
  std::string buf = "-a=c&e=8&s=?\r\nAAAAAAAAAAAA\r\nBBBBBBBBBBBB\r\n.\r\n";
  std::size_t used = 0;
  auto r = next(buf, &used);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->framing, Framing::kTemplate);
  ASSERT_EQ(r->queries.size(), 2u);
  EXPECT_EQ(r->queries[1].get("s"), "BBBBBBBBBBBB");
  EXPECT_EQ(r->queries[1].get("e"), "8");
  EXPECT_EQ(classify(r->queries[1]), Action::kCheck);
}

TEST(RazorWire, LimitsAreErrors) {
  Limits l;
  l.max_line_bytes = 64;
  l.max_request_bytes = 200;
  l.max_batch_queries = 3;
  std::size_t used = 0;
  auto long_line = next_request(std::string(100, 'x'), l, &used);
  ASSERT_FALSE(long_line.ok());
  EXPECT_EQ(long_line.error().code, Errc::kLimitExceeded);
  auto big = next_request("-a=r&message=*\r\n" + std::string(300, 'x'), l, &used);
  ASSERT_FALSE(big.ok());
  auto many = next_request("-a=c&e=8&s=1\r\na=c\r\na=c\r\na=c\r\n.\r\n", l, &used);
  ASSERT_FALSE(many.ok());
  EXPECT_EQ(many.error().code, Errc::kLimitExceeded);
  // Within the limits: fine.
  auto ok = next_request("-a=c&e=8&s=1\r\na=c\r\na=c\r\n.\r\n", l, &used);
  ASSERT_TRUE(ok.ok());
  ASSERT_TRUE(ok->has_value());
  EXPECT_EQ((*ok)->queries.size(), 3u);
}

TEST(RazorWire, ReplyFramingMirrorsTheRequest) {
  std::vector<Sis> none;
  EXPECT_EQ(encode_reply(none), "");
  std::vector<Sis> one(1);
  one[0].add("p", "0");
  EXPECT_EQ(encode_reply(one), "p=0\r\n");
  std::vector<Sis> two(2);
  two[0].add("cf", "100").add("p", "1");
  two[1].add("cf", "100").add("p", "1");
  EXPECT_EQ(encode_reply(two), "-cf=100&p=1\r\ncf=100&p=1\r\n.\r\n");
}

TEST(RazorWire, Classify) {
  auto c = [](std::string_view line) { return classify(*parse_sis(line)); };
  EXPECT_EQ(c("cn=razor-agents&cv=2.84"), Action::kIdentify);
  EXPECT_EQ(c("a=q"), Action::kQuit);
  EXPECT_EQ(c("a=g&pm=csl"), Action::kGetCsl);
  EXPECT_EQ(c("a=g&pm=nsl"), Action::kGetNsl);
  EXPECT_EQ(c("a=g&pm=zone"), Action::kGetOther);
  EXPECT_EQ(c("a=r&e=4&ep4=7542-10&s=x"), Action::kReportCheck);
  EXPECT_EQ(c("a=revoke&e=4&s=x"), Action::kRevoke);
  EXPECT_EQ(c("a=reg&registrar=Razor-Agents%20v2.84"), Action::kRegister);
  EXPECT_EQ(c("a=ai&cn=razor-agents&cv=2.84&user=alice%40example.org"), Action::kAuthInit);
  EXPECT_EQ(c("a=auth&aresp=xILzpimeXYbXF_7s0JrDEgNNEdIA"), Action::kAuth);
  EXPECT_EQ(c("hello"), Action::kUnknown);
  EXPECT_EQ(c(""), Action::kUnknown);
}

TEST(RazorWire, AuthResponseVectors) {
  // razor2.md §8.6 and the A6 transcript (§12).
  EXPECT_EQ(auth_response("s3cret", "HndqmQ2LyCPrNLS9"), "xILzpimeXYbXF_7s0JrDEgNNEdIA");
  EXPECT_EQ(auth_response("s3cret", "OqXf7k8ci3VTuUF1"), "mIBxTLVa_wmNk8lV2KvyieZ4m9MA");
  EXPECT_NE(auth_response("s3creT", "HndqmQ2LyCPrNLS9"), "xILzpimeXYbXF_7s0JrDEgNNEdIA");
  EXPECT_EQ(auth_response(std::string(80, 'p'), "abc").size(), 28u);
}

TEST(RazorWire, SplitUploadAndRebuild) {
  std::string headers =
      "From: a@b.c\nSubject: offer\nMIME-Version: 1.0\nContent-Type: multipart/alternative;\n "
      "boundary=\"xx\"\n";
  std::string p1 = "X-Razor2-Agent: Razor-Agents v2.84\nContent-Type: text/plain\n\nbuy now\n";
  std::string p2 =
      "X-Razor2-Agent: Razor-Agents v2.84\nContent-Type: text/html\n\n<b>buy</b> now\n";
  auto u = split_upload(headers + "\r\n" + p1 + "\r\n" + p2);
  EXPECT_EQ(u.headers, headers);
  ASSERT_EQ(u.parts.size(), 2u);
  EXPECT_EQ(u.parts[0], p1);
  EXPECT_EQ(u.parts[1], p2);

  std::string m = rebuild_message(u, "BOUND");
  EXPECT_NE(m.find("Subject: offer\n"), std::string::npos);
  EXPECT_EQ(m.find("boundary=\"xx\""), std::string::npos);
  EXPECT_NE(m.find("Content-Type: multipart/alternative; boundary=\"BOUND\""), std::string::npos);
  EXPECT_NE(m.find("--BOUND\nContent-Type: text/html\n\n<b>buy</b> now\n--BOUND--\n"),
            std::string::npos);
  EXPECT_EQ(m.find("X-Razor2-Agent"), std::string::npos);

  auto single = split_upload("Subject: s\nContent-Type: text/plain\n\r\n" + p1);
  ASSERT_EQ(single.parts.size(), 1u);
  EXPECT_EQ(rebuild_message(single, "B"), "Subject: s\nContent-Type: text/plain\n\nbuy now\n");

  auto none = split_upload("Subject: only headers\n");
  EXPECT_TRUE(none.parts.empty());
}

}  // namespace
}  // namespace strop::protocol::razor
