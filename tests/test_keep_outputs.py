"""scripts/keep_outputs.py tidies a real run's outputs for GitHub without changing what they say."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "scripts"))
from keep_outputs import start_up_lines, tidy  # noqa: E402


def stream(name, text):
    return {"output_type": "stream", "name": name, "text": text}


def test_tidy_joins_streams_and_keeps_the_last_state_of_progress_bars():
    outputs = [
        stream("stdout", "smoke mode: off\n"),
        stream("stderr", "UserWarning: something the reader should see\n"),
        stream("stdout", "Epoch 1/5\n\r1/391 \x1b[32m━\x1b[0m\r391/391 done\n"),
        stream("stdout", "Epoch 2/5\n"),
    ]
    assert tidy(outputs) == [
        stream("stdout", ["smoke mode: off\n"]),
        stream("stderr", ["UserWarning: something the reader should see\n"]),
        stream("stdout", ["Epoch 1/5\n", "391/391 done\n", "Epoch 2/5\n"]),
    ]


def test_start_up_log_lines_are_found_not_scrubbed():
    noisy = {"cells": [{"cell_type": "code", "outputs": [
        stream("stderr", "E0000 00:00:1795582252.228693   14999 cuda_platform.cc:52] failed call to cuInit\n"
               "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.\n"),
        stream("stdout", "smoke mode: off\n"),
    ]}]}
    assert len(start_up_lines(noisy)) == 2
    assert start_up_lines({"cells": [{"cell_type": "code", "outputs": [stream("stdout", "Epoch 1/5\n")]}]}) == []
