// fake_store_test_util.hpp (tests only): an in-memory storage::Store with controllable
// failures and deferred write acknowledgements, so request handling is tested without LMDB.
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "storage/store.hpp"

namespace strop::node::testing {

class FakeStore : public storage::Store {
 public:
  // Knobs.
  bool unavailable = false;  // report/revoke fail with kUnavailable (queue full)
  bool defer = false;        // hold write callbacks until release()
  storage::TimePoint clock{std::chrono::seconds{1'700'000'000}};

  std::vector<std::function<void()>> held;  // deferred acknowledgements
  void release() {
    auto h = std::move(held);
    held.clear();
    for (auto& f : h) f();
  }

  Result<storage::CheckOutcome> check(std::span<const sigs::Signature> sigs) override {
    return check(sigs, clock);
  }
  Result<storage::CheckOutcome> check(std::span<const sigs::Signature> sigs,
                                      storage::TimePoint) override {
    std::lock_guard lock(mu_);
    storage::CheckOutcome out;
    for (std::size_t i = 0; i < sigs.size(); ++i) {
      auto it = reports_.find(sigs[i].text());
      if (it == reports_.end() || it->second.empty()) continue;
      storage::Match m;
      m.engine = sigs[i].engine;
      m.id = sigs[i].text();
      m.query_index = i;
      m.reports = static_cast<std::uint32_t>(it->second.size());
      m.confidence = 60;
      m.allowed = allowed_.count(m.id) > 0;
      m.first_seen = first_seen_[m.id];
      m.last_report = last_report_[m.id];
      out.matches.push_back(m);
      out.confidence = 60;
      out.spam = true;
    }
    return out;
  }

  void report(storage::ReporterId r, std::vector<sigs::Signature> sigs, storage::TimePoint,
              storage::VoteCallback done) override {
    vote(r, std::move(sigs), false, std::move(done));
  }
  void revoke(storage::ReporterId r, std::vector<sigs::Signature> sigs, storage::TimePoint,
              storage::VoteCallback done) override {
    vote(r, std::move(sigs), true, std::move(done));
  }
  // Replay keys are consumed like the real store's (kept for the fake's lifetime).
  void vote(storage::VoteRequest req, storage::VoteCallback done) override {
    if (req.replay) {
      std::lock_guard lock(mu_);
      if (!replay_keys_.insert({req.reporter, req.replay->nonce}).second) {
        return done(make_error(Errc::kReplayed, "replayed nonce"));
      }
    }
    vote(req.reporter, std::move(req.sigs), req.revoke, std::move(done));
  }

  Result<storage::Reporter> add_reporter(const storage::ReporterSpec& spec) override {
    std::lock_guard lock(mu_);
    if (by_name_.count(spec.name)) return make_error(Errc::kExists, "reporter exists");
    storage::Reporter r;
    r.id = static_cast<storage::ReporterId>(by_name_.size() + 1);
    r.name = spec.name;
    r.secret = spec.secret;
    r.trust = r.base_trust = spec.trust.value_or(0.1);
    r.pinned = spec.pinned && spec.trust.has_value();
    r.admin = spec.admin;
    by_name_[r.name] = r;
    return r;
  }
  Result<storage::Reporter> find_reporter(std::string_view name) override {
    std::lock_guard lock(mu_);
    auto it = by_name_.find(std::string(name));
    if (it == by_name_.end()) return make_error(Errc::kNotFound, "no such reporter");
    return it->second;
  }
  Result<storage::Reporter> find_reporter(storage::ReporterId id) override {
    std::lock_guard lock(mu_);
    for (auto& [n, r] : by_name_) {
      if (r.id == id) return r;
    }
    return make_error(Errc::kNotFound, "no such reporter");
  }
  Result<std::vector<storage::Reporter>> list_reporters() override {
    std::lock_guard lock(mu_);
    std::vector<storage::Reporter> v;
    for (auto& [n, r] : by_name_) v.push_back(r);
    return v;
  }
  Result<storage::Reporter> set_trust(std::string_view name, double trust, bool pinned) override {
    std::lock_guard lock(mu_);
    auto it = by_name_.find(std::string(name));
    if (it == by_name_.end()) return make_error(Errc::kNotFound, "no such reporter");
    it->second.trust = it->second.base_trust = trust;
    it->second.pinned = pinned;
    return it->second;
  }
  Result<storage::Reporter> set_disabled(std::string_view name, bool disabled) override {
    std::lock_guard lock(mu_);
    auto it = by_name_.find(std::string(name));
    if (it == by_name_.end()) return make_error(Errc::kNotFound, "no such reporter");
    it->second.disabled = disabled;
    return it->second;
  }
  storage::StoreStats stats() override {
    std::lock_guard lock(mu_);
    storage::StoreStats s;
    s.signatures = reports_.size();
    s.reporters = by_name_.size();
    s.writer_queue_depth = held.size();
    return s;
  }
  // Fleet mode: events are recorded and acknowledged; votes among them are not applied.
  std::vector<storage::LoggedWrite> logged;
  void apply_logged(storage::LoggedWrite w, storage::LoggedCallback done) override {
    storage::LoggedOutcome out;
    {
      std::lock_guard lock(mu_);
      if (w.seq <= applied_) {
        out.skipped = true;
      } else {
        applied_ = w.seq;
        logged.push_back(std::move(w));
      }
    }
    done(std::move(out));
  }
  std::uint64_t applied_sequence() override {
    std::lock_guard lock(mu_);
    return applied_;
  }
  Result<std::vector<sigs::Signature>> take_hits() override {
    return std::vector<sigs::Signature>{};
  }
  Result<bool> expiry_due(storage::TimePoint) override { return false; }
  // Federation: peers are reporters marked as peers; the feed is `feed`, served as is.
  std::vector<storage::FeedEntry> feed;
  std::vector<storage::PeerBatch> peer_batches;
  Result<storage::Peer> add_peer(const storage::PeerSpec& spec) override {
    storage::ReporterSpec rs{spec.name, spec.secret, spec.trust};
    auto r = add_reporter(rs);
    if (!r) return r.error();
    std::lock_guard lock(mu_);
    by_name_[spec.name].peer = true;
    storage::Peer p;
    p.reporter = by_name_[spec.name];
    p.url = spec.url;
    peers_[spec.name] = p;
    return p;
  }
  Result<storage::Peer> find_peer(std::string_view name) override {
    std::lock_guard lock(mu_);
    auto it = peers_.find(std::string(name));
    if (it == peers_.end()) return make_error(Errc::kNotFound, "no such peer");
    return it->second;
  }
  Result<std::vector<storage::Peer>> list_peers() override {
    std::lock_guard lock(mu_);
    std::vector<storage::Peer> v;
    for (auto& [n, p] : peers_) v.push_back(p);
    return v;
  }
  Result<void> remove_peer(std::string_view name) override {
    std::lock_guard lock(mu_);
    if (peers_.erase(std::string(name)) == 0) return make_error(Errc::kNotFound, "no such peer");
    return {};
  }
  void apply_peer_batch(storage::PeerBatch b,
                        std::function<void(Result<storage::PeerBatchOutcome>)> done) override {
    {
      std::lock_guard lock(mu_);
      peer_batches.push_back(std::move(b));
    }
    done(storage::PeerBatchOutcome{});
  }
  Result<storage::FeedPage> read_feed(std::uint64_t after, std::size_t limit) override {
    std::lock_guard lock(mu_);
    storage::FeedPage page;
    for (const auto& e : feed) {
      page.head = std::max(page.head, e.seq);
      if (e.seq > after && page.entries.size() < limit) page.entries.push_back(e);
    }
    return page;
  }

  Result<void> flush() override { return {}; }
  Result<std::uint64_t> expire(storage::TimePoint) override { return std::uint64_t{0}; }
  Result<void> backup(const std::string&) override { return {}; }
  storage::TimePoint now() const override { return clock; }

  // Signature administration: reports (confidence 60 while reported) and an allowlist.
  Result<std::vector<storage::SignatureInfo>> signature_info(
      std::span<const sigs::Signature> sigs) override {
    std::lock_guard lock(mu_);
    std::vector<storage::SignatureInfo> out;
    for (const auto& s : sigs) {
      storage::SignatureInfo i;
      i.sig = s;
      i.allowed = allowed_.count(s.text()) > 0;
      auto it = reports_.find(s.text());
      if (it != reports_.end() && !it->second.empty()) {
        i.stored = true;
        i.first_seen = first_seen_[s.text()];
        i.last_seen = last_report_[s.text()];
        i.reports = static_cast<std::uint32_t>(it->second.size());
        i.confidence = 60;
        for (auto r : it->second) {
          // Appended, not "r" + to_string(r): gcc 12 -O3 reports a bogus -Wrestrict for the
          // latter (GCC bug 105329).
          std::string name = "r";
          name += std::to_string(r);
          i.votes.push_back({r, std::move(name), false, clock, 1.0});
        }
      }
      out.push_back(std::move(i));
    }
    return out;
  }
  Result<std::vector<bool>> delete_signatures(std::span<const sigs::Signature> sigs) override {
    std::lock_guard lock(mu_);
    std::vector<bool> out;
    for (const auto& s : sigs) {
      bool had = reports_.erase(s.text()) > 0;
      first_seen_.erase(s.text());
      last_report_.erase(s.text());
      had = allowed_.erase(s.text()) > 0 || had;
      out.push_back(had);
    }
    return out;
  }
  Result<std::vector<bool>> set_allowed(std::span<const sigs::Signature> sigs,
                                        bool allowed) override {
    std::lock_guard lock(mu_);
    std::vector<bool> out;
    for (const auto& s : sigs) {
      out.push_back(allowed ? allowed_.insert(s.text()).second : allowed_.erase(s.text()) > 0);
    }
    return out;
  }

 private:
  std::uint64_t applied_ = 0;
  void vote(storage::ReporterId r, std::vector<sigs::Signature> sigs, bool revoke,
            storage::VoteCallback done) {
    if (unavailable) return done(make_error(Errc::kUnavailable, "writer queue full"));
    storage::VoteOutcome out;
    {
      std::lock_guard lock(mu_);
      for (auto& s : sigs) {
        auto& voters = reports_[s.text()];
        if (revoke) {
          out.effects.push_back(voters.erase(r) ? storage::VoteEffect::kWithdrawn
                                                : storage::VoteEffect::kUnknown);
        } else {
          out.effects.push_back(voters.insert(r).second ? storage::VoteEffect::kRecorded
                                                        : storage::VoteEffect::kUnchanged);
          first_seen_.try_emplace(s.text(), clock);
          last_report_[s.text()] = clock;
        }
      }
    }
    if (defer) {
      held.push_back([done, out] { done(out); });
    } else {
      done(out);
    }
  }

  std::mutex mu_;
  std::map<std::string, storage::Reporter> by_name_;
  std::map<std::string, storage::Peer> peers_;
  std::map<std::string, std::set<storage::ReporterId>> reports_;
  std::set<std::pair<storage::ReporterId, std::string>> replay_keys_;
  std::set<std::string> allowed_;
  std::map<std::string, storage::TimePoint> first_seen_, last_report_;  // by signature text
};

}  // namespace strop::node::testing
