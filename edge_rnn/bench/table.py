"""Benchmark results as a Markdown table."""

from __future__ import annotations


def _us(s: float) -> str:
    return f"{s * 1e6:,.1f} µs"


def runtime_table(r: dict, torch_rows: dict | None = None, fp32_rows: dict | None = None) -> str:
    f, lm = r["floor"], r["lm"]
    floor = f["step_floor_s"]
    rows = [("what", "measured", "vs floor / note")]
    eager = (torch_rows or {}).get("PyTorch eager")
    for name, sec in (torch_rows or {}).items():
        rows.append((f"{name}: token step, next-word top-5", _us(sec), f"{sec / floor:.1f}x floor"))
    if fp32_rows:
        rows.append(("edge-rnn fp32: token step, next-word top-5", _us(fp32_rows["token_step_s"]),
                     f"{fp32_rows['token_step_s'] / floor:.2f}x floor"))
    speedup = f", {eager / lm['token_step_s']:.1f}x faster than eager" if eager else ""
    rows += [
        ("edge-rnn int8: token step, next-word top-5", _us(lm["token_step_s"]),
         f"{lm['token_step_s'] / floor:.2f}x floor{speedup}"),
        ("edge-rnn int8: raw Session.run step", _us(lm["raw_step_s"]), f"{lm['raw_step_s'] / floor:.2f}x floor"),
        ("edge-rnn int8: 32-token prefix chunk, per token", _us(lm["chunk32_per_token_s"]),
         f"{lm['raw_step_s'] / lm['chunk32_per_token_s']:.1f}x cheaper than a step"),
    ]
    for key in ("streams1", "streams8", "streams64", "streams256"):
        n = key[7:]
        rows.append((f"{n} stream{'s' * (n != '1')} batched, 1 thread", f"{lm[key + '_tokens_per_s']:,.0f} tokens/s",
                     f"{f['batch_floor_tokens_per_s'] / lm[key + '_tokens_per_s']:.1f}x compute floor"))
    two = r.get("lm_2threads", {})
    if "streams256_tokens_per_s" in two:
        rows.append(("256 streams batched, 2 threads", f"{two['streams256_tokens_per_s']:,.0f} tokens/s",
                     f"{two['streams256_tokens_per_s'] / lm['streams256_tokens_per_s']:.2f}x one thread"))
    for name, kws in r.get("kws", {}).items():
        for key, value in kws.items():
            if key.startswith("rtf_"):
                rows.append((f"{name}: keyword spotting real-time factor, {key[4:]} chunks", f"{value:.5f}",
                             "front end included"))
    p = r["process"]
    rows += [
        ("peak RSS, runtime-only process with the LM", f"{p['peak_rss_mb']:.1f} MB",
         "torch imported!" if p["torch_imported"] else "no torch imported"),
        ("model load (Session)", f"{p['load_s'] * 1e3:.1f} ms", ""),
        ("LM file (int8)", f"{r['files']['lm_bytes'] / 1e6:.2f} MB",
         f"{r['files']['lm_bytes'] / r['files']['lm_fp32_bytes']:.3f}x fp32" if "lm_fp32_bytes" in r["files"] else ""),
    ]
    for name, kws in r.get("kws", {}).items():
        rows.append((f"{name}: file", f"{kws['bytes'] / 1e3:.0f} KB", ""))
    rows += [
        ("floor: weights read per step", f"{f['weight_bytes_per_step'] / 1e6:.2f} MB",
         f"at {f['read_bandwidth_Bps'] / 1e9:.1f} GB/s (DRAM {f['dram_bandwidth_Bps'] / 1e9:.1f} GB/s)"),
        ("floor: empty onnxruntime call", _us(f["empty_call_s"]), ""),
        ("floor: token step estimate", _us(floor), "bytes / bandwidth + empty call"),
        ("floor: peak MatMulInteger / MatMul rate", f"{f['peak_int8_macs'] / 1e9:.0f} / {f['peak_fp32_macs'] / 1e9:.0f} GMAC/s",
         f"{f['macs_per_token'] / 1e6:.2f} M MAC per token -> {f['batch_floor_tokens_per_s']:,.0f} tokens/s"),
    ]
    width = [max(len(str(row[i])) for row in rows) for i in range(3)]
    line = lambda row: "| " + " | ".join(str(c).ljust(w) for c, w in zip(row, width)) + " |"
    out = [line(rows[0]), "|" + "|".join("-" * (w + 2) for w in width) + "|"]
    return "\n".join(out + [line(row) for row in rows[1:]])
