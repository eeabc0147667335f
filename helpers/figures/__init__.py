"""Machinery a student can skip: the pictures the notebooks draw.

`plotting` (training curves, image and patch grids, SeqPool maps, confusion matrices, and
`save_figure` for slide-ready files), `diagrams` (the architectures, the encoder block and the
tokenizers, drawn from a built model's layers), `recipe` (notebook 05's figures: augmented
images stage by stage, learning-rate schedules, the sweep's and the seed runs' curves).
Where a trained model attends is drawn by `helpers.attention_maps`, beside what it computes.
"""
