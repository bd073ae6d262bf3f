"""Results as tables on a terminal (rich); `--json` bypasses all of this."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

_OUT = Console(highlight=False, soft_wrap=True)


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list) and len(value) > 8:
        return ", ".join(map(str, value[:8])) + f", ... ({len(value)} in all)"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


def key_values(result: dict, title: str | None = None) -> None:
    table = Table(show_header=False, box=None, title=title, title_justify="left")
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in result.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {_fmt(v)}" for k, v in value.items())
        table.add_row(key, Text(_fmt(value)))  # plain text: "[batch, 32]" is no markup
    _OUT.print(table)


def rows(title: str, header: list[str], body: list[list], right: set[int] = frozenset()) -> None:
    """A titled table; columns whose index is in `right` are right-aligned (numbers)."""
    table = Table(title=title, title_justify="left")
    for i, name in enumerate(header):
        table.add_column(name, justify="right" if i in right else "left")
    for row in body:
        table.add_row(*[Text(_fmt(v)) for v in row])
    _OUT.print(table)


def inspect_tables(info: dict) -> None:
    key_values({"model": info["path"], "bytes": info["bytes"], "task": info["task"],
                "precision": info["precision"], "format": info["format"]})
    shape = lambda dims: "[" + ", ".join(map(str, dims)) + "]"  # noqa: E731
    io = [[kind[:-1], a["name"], a["type"], shape(a["shape"])] for kind in ("inputs", "outputs") for a in info[kind]]
    rows("inputs and outputs", ["", "name", "type", "shape"], io)
    rows("states (float32, zeros at the start of a stream)", ["input", "output", "shape"],
         [[s["input"], s["output"], shape(s["shape"])] for s in info["states"]])
    key_values(info["metadata"], title="metadata")


def kws_eval_tables(result: dict) -> None:
    detected = f"{result['stream_detected']} / {result['stream_keyword_utterances']}"
    summary = {"model": result["model"], "precision": result["precision"],
               "keywords detected in the stream": f"{detected} ({result['stream_detection_rate']:.1%})",
               "wrong or extra events in the stream": f"{result['stream_false_accepts']} "
                                                       f"({result['stream_false_accepts_per_hour']:.1f} per hour)",
               "utterances named right": f"{result['utterance_accuracy']:.1%} of {result['utterances']}"}
    if "noise_false_accepts" in result:
        summary["false accepts in noise only"] = (f"{result['noise_false_accepts']} in {result['noise_hours']:g} h "
                                                  f"({result['noise_false_accepts_per_hour']:.2f} per hour)")
    summary["detector"] = result["detector"]
    key_values(summary)
    rows("per keyword", ["keyword", "named right"], [[k, f"{v:.1%}"] for k, v in result["per_class_accuracy"].items()],
         {1})
    rows("per speaker", ["speaker", "named right"],
         [[k, f"{v:.1%}"] for k, v in result["per_speaker_accuracy"].items()], {1})
    rows("DET curve (the detector replayed at each threshold)", ["threshold", "false rejects", "false accepts / h"],
         [[f"{p['threshold']:.2f}" + (" (model)" if p.get("model") else ""), f"{p['false_reject_rate']:.1%}",
           f"{p['false_accepts_per_hour']:.2f}"] for p in result["det_curve"]], {1, 2})


def noise_table(result: dict) -> None:
    """`edge-rnn eval --snr`: one row per condition."""
    body = []
    for r in result["conditions"]:
        fa = f"{r['noise_false_accepts_per_hour']:.1f}" if "noise_false_accepts_per_hour" in r else "-"
        body.append([r["condition"], f"{r['detection_rate']:.1%} ({r['detected']}/{r['keywords']})",
                     r["wrong_label"], r["other_false"], r.get("noise_dbfs", "-"), fa])
    rows(f"{result['model']} in noise ({result['precision']})",
         ["condition", "detected", "wrong label", "other false", "noise dBFS", "noise-only FA/h"], body,
         {1, 2, 3, 4, 5})
    key_values({"detector": result["detector"], **({"plot": result["plot"]} if "plot" in result else {})})


def detector_choice_table(result: dict) -> None:
    """`edge-rnn tune-detector`: each condition under the model's detector and the chosen one."""
    cur, new = result["current"], result["chosen"]
    cell = lambda r: f"{r['detection_rate']:.1%}" + (  # noqa: E731
        f" ({r['noise_false_accepts_per_hour']:.1f}/h)" if "noise_false_accepts_per_hour" in r else "")
    body = [[a["condition"], cell(a), cell(b)] for a, b in zip(cur["conditions"], new["conditions"])]
    body.append(["mean detection; worst FA/h alone", f"{cur['mean_detection']:.1%}; {cur['worst_false_accepts_per_hour']:g}",
                 f"{new['mean_detection']:.1%}; {new['worst_false_accepts_per_hour']:g}"])
    rows(f"{result['model']}: detected (false accepts per hour in noise alone)", ["condition", "model's detector",
         "chosen"], body, {1, 2})
    key_values({"model's detector": cur["detector"], "chosen": new["detector"],
                "detectors tried": result["detectors_tried"],
                "budget": f"{result['max_false_accepts_per_hour']:g} FA/h in every noise-only stream "
                          f"({'kept' if result['budget_met'] else 'not kept'})",
                **({"written": result["written"]} if "written" in result else {})})
