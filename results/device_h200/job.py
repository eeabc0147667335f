"""Device session: short-budget sweep, then ship runs, all on one H200, concurrently."""
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

OUT = Path(os.environ["OUT"])
LOGS = Path("/tmp/logs")
LOGS.mkdir(exist_ok=True)
T0 = time.time()
SWEEP_DEADLINE = float(os.environ.get("SWEEP_DEADLINE", 290))
END = float(os.environ.get("END", 430))  # seconds after T0 when every run must be done
BIG_MINUTES = float(os.environ.get("BIG_MINUTES", 7.0))
PY = sys.executable
env = dict(os.environ, PYTHONUNBUFFERED="1", XLA_PYTHON_CLIENT_PREALLOCATE="false")


def log(message):
    print(f"[{time.time() - T0:6.1f}s] {message}", flush=True)


def start(name, args):
    handle = open(LOGS / f"{name}.log", "w")
    return name, subprocess.Popen([PY, *args], stdout=handle, stderr=subprocess.STDOUT, env=env)


def tail(name, lines=15):
    text = (LOGS / f"{name}.log").read_text().splitlines()
    return "\n".join(text[-lines:])


def pack(extra_ok=True):
    with tarfile.open(OUT / "results.tar.gz", "w:gz") as tar:
        tar.add(LOGS, arcname="logs")
        for path in ["results", "helpers/assets"]:
            if Path(path).exists():
                tar.add(path, arcname=path, filter=lambda info: None if info.name.endswith("_7_3x1_cifar10.weights.h5")
                        or info.name.endswith("_7_4_cifar10.weights.h5") else info)
    for weights in Path("helpers/assets").glob("*_7_*_cifar10.weights.h5"):
        shutil.copy(weights, OUT / weights.name)


big = ["vit_lite_7_4", "cvt_7_4", "cct_7_3x1"]
procs = dict(start(f"big_{m}", ["-m", "helpers.train", "--model", m, "--recipe", "paper", "--minutes", str(BIG_MINUTES),
                                "--out", f"runs/h200/{m}_paper_{BIG_MINUTES:g}min"]) for m in big)
sys.path.insert(0, "scripts")
from short_budget_sweep import TRIES  # noqa: E402

sweep = dict(start(f"try_{t}", ["scripts/short_budget_sweep.py", "run", t, "--runs-dir", "runs/short_budget"]) for t in TRIES)
procs.update(sweep)
log(f"started {len(procs)} processes")

# Fail fast: a process that dies in the first 120 s ends the session.
while time.time() - T0 < 120:
    dead = [n for n, p in procs.items() if p.poll() not in (None, 0)]
    if dead:
        log(f"early failure: {dead}")
        for n in dead[:3]:
            print(f"--- {n}\n{tail(n, 30)}")
        for p in procs.values():
            p.kill()
        pack()
        sys.exit(1)
    time.sleep(5)
log("all alive at 120 s")
for n in list(procs)[:1] + list(sweep)[:1]:
    print(f"--- {n}\n{tail(n, 4)}", flush=True)

while time.time() - T0 < SWEEP_DEADLINE and any(p.poll() is None for p in sweep.values()):
    time.sleep(3)
for n, p in sweep.items():
    if p.poll() is None:
        p.kill()
        log(f"killed {n} at the sweep deadline: {tail(n, 1)}")
    else:
        log(f"{n}: rc {p.returncode}: {tail(n, 1)[:300]}")
summary = subprocess.run([PY, "scripts/short_budget_sweep.py", "summarize"], capture_output=True, text=True, env=env)
print(summary.stdout[-2000:], summary.stderr[-2000:], flush=True)

small = ["vit_lite_2_4", "cvt_2_4", "cct_2_3x2"]
if "winner: None" not in summary.stdout and summary.returncode == 0:
    minutes = (END - (time.time() - T0)) / 60
    log(f"ship runs: {minutes:.2f} min each")
    ships = dict(start(f"ship_{m}", ["scripts/short_budget_sweep.py", "ship", m, "--minutes", f"{minutes:.2f}",
                                     "--max-epochs", "200", "--out", f"runs/h200/{m}_fast_h200"]) for m in small)
    procs.update(ships)
while any(p.poll() is None for p in procs.values()) and time.time() - T0 < END + 60:
    time.sleep(3)
for n, p in procs.items():
    if p.poll() is None:
        p.kill()
        log(f"killed {n} at the end")
log("training done")
for run_dir in sorted(Path("runs/h200").glob("*")):
    if (run_dir / "results.json").exists():
        r = json.loads((run_dir / "results.json").read_text())
        log(f"{run_dir.name}: {r['test_accuracy']:.4f} epochs {r['epochs']} {r['train_images_per_s']} img/s "
            f"{r['training_time_s_this_session']} s")
        pub = subprocess.run([PY, "scripts/publish_run.py", str(run_dir), "--data",
                              "offline copy of CIFAR-10, JPEG re-encoded (quality 75)", "--ship-weights"],
                             capture_output=True, text=True, env=env)
        print(pub.stdout[-500:], pub.stderr[-1500:], flush=True)
    else:
        log(f"{run_dir.name}: unfinished")
pack()
log("packed")
