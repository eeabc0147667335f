"""Copy the outputs of an executed notebook into the repository's copy, tidied for GitHub.

    jupyter nbconvert --to notebook --execute --output-dir /tmp/executed notebooks/02_vit_lite.ipynb
    python scripts/keep_outputs.py /tmp/executed/02_vit_lite.ipynb notebooks/02_vit_lite.ipynb

The code cells of both must be identical (markdown may have been edited since the run).
Refuses smoke-mode outputs, and outputs holding TensorFlow's or XLA's C++ start-up log lines:
`helpers.runtime.device.prepare()` must keep those out of a real kernel's output, and scrubbing them here
would hide it when it does not. Tidying changes no result: consecutive stream outputs are joined,
a progress bar keeps only its last state (what Jupyter shows after the carriage returns), and
terminal colour codes go.
"""

import argparse
import json
import re

ANSI = re.compile(r"\x1b\[[0-9;]*m")
# TensorFlow's C++ start-up log (absl format "I0000 00:00:12.345 678 file.cc:9] ..."): oneDNN and
# CPU-feature notices, and on a machine without a GPU the failed CUDA probe.
STARTUP_NOISE = re.compile(
    r"^(WARNING: All log messages before absl|[IWE]\d{4} \d\d:\d\d:[\d.]+ +\d+ [\w.]+:\d+\]"
    r"|To enable the following instructions: .* rebuild TensorFlow)"
)


def _resolve_carriage_returns(text):
    lines = []
    for line in text.split("\n"):
        lines.append(line.rstrip("\r").split("\r")[-1])
    return "\n".join(lines)


def tidy(outputs):
    tidied = []
    for output in outputs:
        if output["output_type"] == "stream":
            text = "".join(output["text"])
            if tidied and tidied[-1]["output_type"] == "stream" and tidied[-1]["name"] == output["name"]:
                tidied[-1]["text"] += text
                continue
            tidied.append({**output, "text": text})
        else:
            tidied.append(output)
    for output in tidied:
        if output["output_type"] == "stream":
            text = _resolve_carriage_returns(ANSI.sub("", output["text"]))
            output["text"] = text.splitlines(keepends=True)
    return [o for o in tidied if o["output_type"] != "stream" or "".join(o["text"]).strip()]


def start_up_lines(notebook):
    """The lines of a notebook's stream outputs that are C++ start-up log."""
    return [
        line
        for cell in notebook["cells"]
        for output in cell.get("outputs", [])
        if output["output_type"] == "stream"
        for line in "".join(output["text"]).split("\n")
        if STARTUP_NOISE.match(line)
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("executed")
    parser.add_argument("target")
    args = parser.parse_args(argv)
    executed = json.load(open(args.executed))
    target = json.load(open(args.target))
    code = lambda nb: ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]  # noqa: E731
    if code(executed) != code(target):
        raise SystemExit("The code cells differ: run the notebook again.")
    text = json.dumps([c.get("outputs", []) for c in executed["cells"]])
    if "smoke mode: on" in text or "smoke mode: off" not in text:
        raise SystemExit("Not a real run (smoke mode on, or no settings printed): refusing its outputs.")
    noisy = start_up_lines(executed)
    if noisy:
        raise SystemExit(f"C++ start-up log lines in the outputs, e.g. {noisy[0]!r}: refusing them.")
    runs = iter(c for c in executed["cells"] if c["cell_type"] == "code")
    for cell in target["cells"]:
        if cell["cell_type"] == "code":
            run = next(runs)
            cell["outputs"] = tidy(run.get("outputs", []))
            cell["execution_count"] = run.get("execution_count")
    with open(args.target, "w") as file:
        json.dump(target, file, indent=1, ensure_ascii=False)
        file.write("\n")


if __name__ == "__main__":
    main()
