"""Machinery a student can skip: what runs the lesson on a real machine.

`backend` (which Keras backend, chosen before Keras loads), `device` (precision, seeds,
strategies over several devices, padding over replicas, tensors checked on their device),
`checks` (clear errors for wrong images, labels and arguments), `classifier` (the model class
`create_model` returns: the plain model of `helpers.models` with input checks, padding over
replicas and augmentation on the device), `weights` (loading weight files, checked), `assets`
(the shipped files, checked against their digests), `atomic_files` and `run_folder` (files that
survive kills and full disks), `loop` (`model.fit` with a resumable run folder, stopped when the
loss is NaN or diverges) and `budget` (how many epochs fit in a time budget).
"""
