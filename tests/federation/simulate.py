#!/usr/bin/env python3
"""simulate.py: a model of Strop federation between many independent sites (docs/federation.md).

Not a test of the node: a discrete-event model of the design in docs/federation.md, used to
size it before the first line of it exists in C++ and to keep its numbers reproducible:

  * a peering graph of N sites grown by preferential attachment (each new site peers with M
    existing ones, popular sites more likely: a few hubs, most sites with 3-8 peers), every
    peering two-sided, each side choosing its own trust in the other;
  * the reputation model of docs/reputation.md, applied to peer votes: a peer P's listing of
    a signature is one vote at site X, weight trust(X->P) * kHopDecay^hop (hop = how many sites
    forwarded the listing before P; 0 when P is its origin); trusted votes (>= 500) count in
    full, low-trust ones together at most kLowTrustCap = 200; listed when S >= 250 (confidence
    50);
  * pulls: each site pulls each peer's feed either every `--poll` seconds (random phase) or
    by long poll (the request waits at the server until an entry exists), plus a network
    round trip and an apply time per hop;
  * a site lists a signature when its peer votes say so and then serves it in its own feed
    (hop + 1), once per (signature, origin, version); a listing is forwarded no further than
    kMaxHops.

It prints, for the chosen parameters: time for a listing to reach 50/90/99 % of sites, the
share of sites it never reaches, feed entries and bytes received per site per day at a given
network-wide report rate, and what a share of hostile sites listing ham achieves. With
--check it runs the small scenarios docs/federation.md relies on and exits 1 if one does not
hold (run by ctest as federation.model).

  simulate.py [--sites 1000] [--attach 3] [--partner] [--poll 5 | --long-poll] [--rtt 0.05]
              [--apply 0.02] [--decay 0.9] [--hostile 0.10] [--origins 1 10] [--listings 40]
              [--reports-per-day 1e6] [--seed 1] [--check]
"""
import argparse
import heapq
import random
import statistics
import sys

kTrustedMin = 500
kLowTrustCap = 200
kHalfEvidence = 250
kMaxHops = 8
kChecks = 5  # scenarios in check()

# Bytes of one feed entry on the wire (docs/federation.md, "Entry"): kind, engine, value
# length + a 32-byte value (fuzzy/1 is 128 bytes, url/1 and body/1 16-32), origin length + a
# 16-byte site name, origin version, hop, confidence. The mean below weighs 1 fuzzy/1 in 4.
kEntryBytes = 1 + 1 + 1 + 56 + 1 + 16 + 8 + 1 + 1
kBatchOverhead = 64 + 300  # batch header + HTTP response and request headers per pull


def trust_mix(rng):
    """An admin's trust in a new peer: 30 % partners at 1.0, 40 % at 0.6, 30 % at 0.3."""
    r = rng.random()
    return 1000 if r < 0.3 else 600 if r < 0.7 else 300


def build_graph(n, m, rng, partner=False):
    """Preferential attachment: returns adjacency lists and the trust each side sets. With
    `partner`, each site trusts its best-connected peer (its upstream, usually a hub) at 1.0
    whatever the mix draws."""
    peers = [set() for _ in range(n)]
    ends = []  # one entry per peering end: picking from it favours well-connected sites
    for v in range(n):
        targets = set()
        if v <= m:
            targets = set(range(v))
        else:
            while len(targets) < m:
                targets.add(rng.choice(ends))
        for u in targets:
            peers[v].add(u)
            peers[u].add(v)
            ends += [u, v]
    trust = {}
    for v in range(n):
        for u in peers[v]:
            trust[(v, u)] = trust_mix(rng)  # v's trust in u
        if partner and peers[v]:
            trust[(v, max(peers[v], key=lambda u: (len(peers[u]), -u)))] = 1000
    return [sorted(p) for p in peers], trust


def listed(votes):
    """votes: weights (per-mille) of the peers that list the signature at this site."""
    trusted = sum(w for w in votes if w >= kTrustedMin)
    low = sum(w for w in votes if w < kTrustedMin)
    return trusted + min(kLowTrustCap, low) >= kHalfEvidence


class Net:
    def __init__(self, peers, trust, args, rng, hostile=frozenset()):
        self.peers, self.trust, self.args, self.rng = peers, trust, args, rng
        self.hostile = hostile
        # phase[(x, p)]: when x's periodic pull of p first fires (0..poll)
        self.phase = {(x, p): rng.random() * args.poll for x in range(len(peers)) for p in peers[x]}

    def arrival(self, x, p, t):
        """When an entry that appears in p's feed at time t is applied at puller x."""
        a = self.args
        delay = a.rtt + a.apply
        if a.long_poll:
            return t + delay
        ph = self.phase[(x, p)]
        k = max(0, int((t - ph) // a.poll) + 1) if t > ph else 0
        return ph + k * a.poll + delay

    def spread(self, origins, decay, t0=0.0):
        """One signature listed by the local reporters of each site in `origins` at t0 (a
        campaign seen at several sites). Returns (time listed per site, entries received per
        site)."""
        n = len(self.peers)
        when = [None] * n
        hop_at = [None] * n
        votes = [dict() for _ in range(n)]  # votes[x][p] = hop p advertised
        received = [0] * n
        # events: (time, order, kind, site, peer, hop); kind 0 = entry in site's feed,
        # kind 1 = entry from peer applied at site
        events = []
        for order, o in enumerate(origins):
            when[o], hop_at[o] = t0, 0
            events.append((t0, order, 0, o, None, 0))
        order = len(events)
        while events:
            t, _, kind, x, p, hop = heapq.heappop(events)
            if kind == 0:
                if hop >= kMaxHops:
                    continue  # served, but nobody forwards it further
                for y in self.peers[x]:
                    received[y] += 1
                    if hop_at[y] == 0:
                        continue  # an origin's own listing echoed back: ignored by origin name
                    heapq.heappush(events, (self.arrival(y, x, t), order, 1, y, x, hop))
                    order += 1
                continue
            old = votes[x].get(p)
            if old is not None and old <= hop:
                continue
            votes[x][p] = hop
            ws = [self.trust[(x, q)] * decay ** h for q, h in votes[x].items()]
            if not listed(ws) or x in self.hostile:
                continue  # hostile sites do not forward honest listings
            mine = min(votes[x].values()) + 1
            if when[x] is None or mine < hop_at[x]:
                if when[x] is None:
                    when[x] = t
                hop_at[x] = mine
                heapq.heappush(events, (t, order, 0, x, None, mine))
                order += 1
        return when, received


def percentile_time(when, frac, n):
    ts = sorted(t for t in when if t is not None)
    k = int(frac * n + 0.999999) - 1
    return ts[k] if k < len(ts) else None


def reach_stats(net, decay, origin_sets, n, exclude=frozenset()):
    """Per listing: time to 50/90 % of all sites, share of honest sites listing it."""
    t50, t90, share, recv = [], [], [], []
    for origins in origin_sets:
        when, received = net.spread(origins, decay)
        t50.append(percentile_time(when, 0.5, n))
        t90.append(percentile_time(when, 0.9, n))
        honest = [x for x in range(n) if x not in exclude]
        share.append(sum(1 for x in honest if when[x] is not None) / len(honest))
        recv.append(received)
    return t50, t90, share, recv


def fmt_time(xs):
    ok = sorted(x for x in xs if x is not None)
    if len(ok) * 2 < len(xs):
        return f"not reached ({len(xs) - len(ok)}/{len(xs)})"
    med = sorted(x if x is not None else float("inf") for x in xs)[len(xs) // 2]
    never = f", {len(xs) - len(ok)}/{len(xs)} never" if len(ok) < len(xs) else ""
    return f"{med:.1f} s (worst {ok[-1]:.1f} s{never})"


def run_network(args):
    rng = random.Random(args.seed)
    peers, trust = build_graph(args.sites, args.attach, rng, args.partner)
    n = args.sites
    degs = sorted(len(p) for p in peers)
    mode = "long poll" if args.long_poll else f"poll every {args.poll:g} s"
    print(f"# {n} sites, {sum(degs) // 2} peerings, degree median {degs[n // 2]}, "
          f"p90 {degs[int(n * 0.9)]}, max {degs[-1]}; trust in a peer 30% 1.0 / 40% 0.6 / "
          f"30% 0.3{', and 1.0 in its best-connected peer' if args.partner else ''}; hop decay {args.decay}; {mode}, rtt {args.rtt:g} s + apply {args.apply:g} s; "
          f"seed {args.seed}")
    net = Net(peers, trust, args, rng)
    print("| origins of a listing | time to 50% of sites | time to 90% of sites | "
          "sites listing it (median / min) |")
    print("|---|---|---|---|")
    recv_one = None
    for k in args.origins:
        sets = [rng.sample(range(n), k) for _ in range(args.listings)]
        t50, t90, share, recv = reach_stats(net, args.decay, sets, n)
        if recv_one is None:
            recv_one = recv
        print(f"| {k} | {fmt_time(t50)} | {fmt_time(t90)} | "
              f"{100 * statistics.median(share):.1f}% / {100 * min(share):.1f}% |")

    # entries received per site per listing (one origin), averaged over the listings
    per_site = sorted(sum(r[x] for r in recv_one) / len(recv_one) for x in range(n))
    listings_day = args.reports_per_day / args.reports_per_listing * args.sigs_per_listing
    pull_s = 1.0 if args.long_poll else args.poll
    print(f"\nfeed traffic at {args.reports_per_day / 1e6:g} M reports/day network-wide "
          f"({args.reports_per_listing:g} reports per listed message, {args.sigs_per_listing} "
          f"signatures each: {listings_day / 1e6:g} M listings/day; {kEntryBytes} bytes per entry, "
          f"{kBatchOverhead} per pull of each peer every {pull_s:g} s when busy):")
    print("| site | peers | entries received per listing | entries/day | MiB/day in |")
    print("|---|---:|---:|---:|---:|")
    order = sorted(range(n), key=lambda x: sum(r[x] for r in recv_one))
    for label, x in (("median", order[n // 2]), ("p99", order[int(n * 0.99)]), ("busiest", order[-1])):
        e = sum(r[x] for r in recv_one) / len(recv_one)
        entries = e * listings_day
        mib = (entries * kEntryBytes + 86400 / pull_s * len(peers[x]) * kBatchOverhead) / 2**20
        print(f"| {label} | {len(peers[x])} | {e:.1f} | {entries / 1e6:.2f} M | {mib:,.0f} |")

    k = int(args.hostile * n)
    if not k:
        return
    hostile = frozenset(rng.sample(range(n), k))
    capped = dict(trust)
    for (x, p) in trust:
        if p in hostile:
            capped[(x, p)] = 300
    print(f"\n{k} hostile sites ({100 * args.hostile:g}%) listing ham; share of honest sites "
          f"that list it (median / max over {min(args.listings, k)} hams):")
    print("| hostile sites are | one hostile origin per ham | all hostile sites list the same ham |")
    print("|---|---|---|")
    for label, tr in (("trusted like any peer (undetected)", trust),
                      ("held at 0.3 by their neighbours (new-peer default)", capped)):
        hnet = Net(peers, tr, args, rng, hostile)
        one = reach_stats(hnet, args.decay, [[h] for h in sorted(hostile)[: args.listings]], n,
                          hostile)[2]
        allh = reach_stats(hnet, args.decay, [sorted(hostile)], n, hostile)[2]
        print(f"| {label} | {100 * statistics.median(one):.1f}% / {100 * max(one):.1f}% | "
              f"{100 * allh[0]:.1f}% |")


def check(args):
    """Small scenarios docs/federation.md states; returns failures."""
    fails = []
    a = argparse.Namespace(**vars(args))
    a.long_poll, a.rtt, a.apply = True, 0.001, 0.05
    rng = random.Random(7)

    def chain(n, t):
        peers = [[j for j in (i - 1, i + 1) if 0 <= j < n] for i in range(n)]
        return peers, {(x, p): t for x in range(n) for p in peers[x]}

    def ring(n, t):
        peers = [sorted({(i - 1) % n, (i + 1) % n}) for i in range(n)]
        return peers, {(x, p): t for x in range(n) for p in peers[x]}

    peers, trust = chain(5, 1000)
    when, received = Net(peers, trust, a, rng).spread([0], 0.9)
    if when[4] is None or when[4] > 5.0:
        fails.append(f"chain of 5 at trust 1.0: E listed at {when[4]}, want within 5 s")
    peers, trust = chain(2, 200)
    when, _ = Net(peers, trust, a, rng).spread([0], 0.9)
    if when[1] is not None:
        fails.append("a peer at trust 0.2 listed at its neighbour")
    peers, trust = ring(5, 1000)
    when, received = Net(peers, trust, a, rng).spread([0], 0.9)
    if any(w is None for w in when):
        fails.append("ring of 5: not every site listed")
    if max(received) > 2 * 2:  # at most once per peer, and once more per shorter path
        fails.append(f"ring of 5 echoes: entries received per site {received}")
    # kMaxHops: a chain longer than the hop limit stops there, decay or not
    peers, trust = chain(kMaxHops + 4, 1000)
    when, _ = Net(peers, trust, a, rng).spread([0], 1.0)
    if when[kMaxHops + 3] is not None:
        fails.append("a listing travelled past kMaxHops")
    # decay: at 0.9 a chain of fully trusted sites lists up to 7 hops (0.9^7 = 0.478 < 0.5)
    peers, trust = chain(12, 1000)
    when, _ = Net(peers, trust, a, rng).spread([0], 0.9)
    reach = max(i for i in range(12) if when[i] is not None)
    if reach != 7:
        fails.append(f"chain at decay 0.9 reaches site {reach}, want 7")
    return fails


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sites", type=int, default=1000)
    ap.add_argument("--attach", type=int, default=3, help="peerings each new site makes")
    ap.add_argument("--poll", type=float, default=5.0, help="seconds between pulls of a peer")
    ap.add_argument("--long-poll", action="store_true", help="pull by long poll instead")
    ap.add_argument("--rtt", type=float, default=0.05, help="network round trip, seconds")
    ap.add_argument("--apply", type=float, default=0.02, help="apply (commit) time per hop")
    ap.add_argument("--decay", type=float, default=0.9, help="trust factor per forwarding hop")
    ap.add_argument("--hostile", type=float, default=0.10)
    ap.add_argument("--listings", type=int, default=40, help="listings simulated per row")
    ap.add_argument("--origins", type=int, nargs="+", default=[1, 10],
                    help="sites whose own reporters list the message (rows)")
    ap.add_argument("--reports-per-day", type=float, default=1e6)
    ap.add_argument("--reports-per-listing", type=float, default=10.0)
    ap.add_argument("--sigs-per-listing", type=int, default=4)
    ap.add_argument("--partner", action="store_true",
                    help="every site trusts its best-connected peer at 1.0")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    if args.check:
        fails = check(args)
        for f in fails:
            print("FAIL:", f)
        print(f"{kChecks - len(fails)} passed, {len(fails)} failed")
        return 1 if fails else 0
    run_network(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
