#include "milter/metrics.hpp"

#include <gtest/gtest.h>

namespace strop::milter {
namespace {

TEST(Metrics, RenderCountsAndHistograms) {
  Metrics m;
  m.message(Action::kReject);
  m.message(Action::kReject);
  m.message(Action::kAccept);
  m.bypass(BypassKind::kAuthenticated);
  m.virus();
  m.stage_time(MetricStage::kClamd, 0.0007);
  m.stage_time(MetricStage::kClamd, 20);
  m.stage_error(MetricStage::kLookup, Errc::kTimeout);
  m.connection_opened();
  m.set_buffer_gauge([] { return std::size_t{1234}; });
  std::string t = m.render();
  EXPECT_NE(t.find("strop_milter_messages_total{verdict=\"reject\"} 2\n"), std::string::npos);
  EXPECT_NE(t.find("strop_milter_messages_total{verdict=\"accept\"} 1\n"), std::string::npos);
  EXPECT_NE(t.find("strop_milter_bypass_total{reason=\"authenticated\"} 1\n"), std::string::npos);
  EXPECT_NE(t.find("strop_milter_viruses_total 1\n"), std::string::npos);
  EXPECT_NE(t.find("strop_milter_stage_seconds_bucket{stage=\"clamd\",le=\"0.0005\"} 0\n"),
            std::string::npos);
  EXPECT_NE(t.find("strop_milter_stage_seconds_bucket{stage=\"clamd\",le=\"0.001\"} 1\n"),
            std::string::npos);
  EXPECT_NE(t.find("strop_milter_stage_seconds_bucket{stage=\"clamd\",le=\"10\"} 1\n"),
            std::string::npos);
  EXPECT_NE(t.find("strop_milter_stage_seconds_bucket{stage=\"clamd\",le=\"+Inf\"} 2\n"),
            std::string::npos);
  EXPECT_NE(t.find("strop_milter_stage_seconds_count{stage=\"clamd\"} 2\n"), std::string::npos);
  EXPECT_NE(t.find("strop_milter_stage_errors_total{stage=\"lookup\",error=\"timeout\"} 1\n"),
            std::string::npos);
  EXPECT_NE(t.find("strop_milter_connections_active 1\n"), std::string::npos);
  EXPECT_NE(t.find("strop_milter_buffer_memory_bytes 1234\n"), std::string::npos);
}

TEST(MetricsServer, ServesMetricsOverHttp) {
  Metrics m;
  m.message(Action::kTag);
  MetricsServer server(&m);
  ASSERT_TRUE(server.start(*parse_endpoint("127.0.0.1:0", true)).ok());
  ASSERT_NE(server.port(), 0);
  auto fetch = [&](const std::string& path) {
    auto c = connect_to(*parse_endpoint("127.0.0.1:" + std::to_string(server.port())),
                        Deadline::after(std::chrono::seconds(5)));
    EXPECT_TRUE(c.ok());
    EXPECT_TRUE(send_all(*c, "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n",
                         Deadline::after(std::chrono::seconds(5)))
                    .ok());
    auto body = recv_all(*c, 1 << 20, Deadline::after(std::chrono::seconds(5)));
    return body.ok() ? *body : std::string();
  };
  std::string r = fetch("/metrics");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 200 OK\r\n")) << r;
  EXPECT_NE(r.find("strop_milter_messages_total{verdict=\"tag\"} 1"), std::string::npos);
  EXPECT_TRUE(fetch("/other").starts_with("HTTP/1.1 404"));
  server.stop();
}

}  // namespace
}  // namespace strop::milter
