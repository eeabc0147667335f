"""Time fit() calls of cct_2_3x2 on train()'s own input path: the whole call against the steps
inside it, the validation, and what comes before and after them.

    PROBE_IMAGES=7680 PROBE_CALLS=4 [PROBE_JIT=auto|true|false] [KERAS_BACKEND=jax] python results/speed/fit_probe.py
"""
import json, os, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import helpers
from helpers.runtime.device import prepare
prepare(verbose=False)
import keras, numpy as np
from helpers.data import load_cifar10
from helpers.models import create_model
from helpers.recipes import compile_model, get_recipe
from helpers.pipeline.feed import training_data
model_name = os.environ.get("PROBE_MODEL", "cct_2_3x2")
jit = {"auto": "auto", "true": True, "false": False}[os.environ.get("PROBE_JIT", "auto")]
calls = int(os.environ.get("PROBE_CALLS", "4"))
steps = int(os.environ.get("PROBE_STEPS", "60"))
(x, y), (xt, yt) = load_cifar10(); y, yt = y.reshape(-1), yt.reshape(-1)
n = int(os.environ.get("PROBE_IMAGES", 128 * steps)); data = ((x[:n], y[:n]), (xt, yt))
recipe = get_recipe("fast", epochs=calls)
feed = training_data(data, recipe, num_classes=10, seed=0)
model = create_model(model_name, dtype="float32")
compile_model(model, recipe, feed.steps_per_epoch, jit_compile=jit)
class T(keras.callbacks.Callback):
    def on_epoch_begin(self, e, logs=None): self.t = [time.perf_counter()]
    def on_train_batch_end(self, b, logs=None): self.t.append(time.perf_counter())
    def on_epoch_end(self, e, logs=None): self.e1 = time.perf_counter()
    def on_train_end(self, logs=None): self.f1 = time.perf_counter()
    def on_test_begin(self, logs=None): self.v0 = time.perf_counter()
    def on_test_end(self, logs=None): self.v1 = time.perf_counter()
timer = T()
rows = []
for c in range(calls):
    start = time.perf_counter()
    timer.v0 = timer.v1 = 0
    model.fit(feed.train, epochs=1, verbose=0, callbacks=[timer], validation_data=feed.validation, **feed.fit_arguments())
    total = time.perf_counter() - start
    t = timer.t
    d = np.diff(t[2:])  # leave out the first step
    rows.append(dict(call=c, before_epoch=round(t[0]-start,2), last_step_to_test=round(timer.v0-t[-1],2), test_to_epoch_end=round(timer.e1-timer.v1,2), epoch_end_to_return=round(start+total-timer.e1,2), total_s=round(total, 2), validation_s=round(timer.v1 - timer.v0, 2), first_step_s=round(t[1]-t[0],2), steps_s=round(t[-1] - t[0], 2), median_step_ms=round(1000 * float(np.median(d)), 1),
                     imgs_per_s=round(128 * len(d) / float(d.sum()), 1)))
    print(json.dumps(rows[-1]), flush=True)
print("RESULT", os.environ.get("PROBE_LABEL", ""), json.dumps(rows[1:]))
