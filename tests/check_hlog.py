#!/usr/bin/env python3
"""Checks a run's latency.hlog with HdrHistogram's Python implementation
(`pip install hdrhistogram`): every interval histogram decodes, and per tag
(intended.<kind>, service.<kind>) the decoded counts, max and (with 1000+ samples) p99 agree with
summary.csv. Usage: check_hlog.py RUN_DIR. Exit 0 when they agree, 1 otherwise."""
import csv
import sys

from hdrh.histogram import HdrHistogram

run_dir = sys.argv[1]
merged = {}
intervals = 0
with open(f"{run_dir}/latency.hlog", encoding="utf-8") as f:
    for line in f:
        if line.startswith("#") or line.startswith('"') or not line.strip():
            continue
        if not line.startswith("Tag="):
            sys.exit(f"untagged histogram line: {line[:60]}")
        tag, rest = line[4:].split(",", 1)
        payload = rest.strip().split(",")[3]
        h = HdrHistogram.decode(payload)
        intervals += 1
        if tag not in merged:
            merged[tag] = HdrHistogram(1, 3_600_000_000_000, 3)
        merged[tag].add(h)

with open(f"{run_dir}/summary.csv", newline="", encoding="utf-8") as f:
    rows = [r for r in csv.DictReader(f) if r["kind"] != "all"]

bad = []
for r in rows:
    for side in ("intended", "service"):
        tag = f"{side}.{r['kind']}"
        h = merged.get(tag)
        if h is None:
            bad.append(f"{tag}: missing from latency.hlog")
            continue
        if h.get_total_count() != int(r["count"]):
            bad.append(f"{tag}: hlog count {h.get_total_count()} != summary count {r['count']}")
        mx, want_mx = h.get_max_value(), int(r[f"{side}_max_ns"])
        if abs(mx - want_mx) > max(0.002 * want_mx, 1):
            bad.append(f"{tag}: hlog max {mx} != summary max {want_mx}")
        # Implementations round the rank of a percentile differently (the
        # Rust crate rounds 0.99 x count up, this one to the nearest), so
        # their p99 can be neighbouring samples, far apart in a sparse tail:
        # the summary's p99 must lie between this reader's values two ranks
        # either side of the 99th percentile.
        n = h.get_total_count()
        if n >= 1000:
            want = int(r[f"{side}_p99_ns"])
            lo = h.get_value_at_percentile(99.0 - 200.0 / n)
            hi = h.get_value_at_percentile(min(100.0, 99.0 + 200.0 / n))
            if not lo * 0.999 - 1 <= want <= hi * 1.001 + 1:
                bad.append(f"{tag}: summary p99 {want} outside the hlog's [{lo}, {hi}] around p99")
if bad:
    print("latency.hlog check FAILED:\n  " + "\n  ".join(bad))
    sys.exit(1)
print(f"latency.hlog OK: {intervals} histograms, {len(merged)} tags agree with summary.csv")
