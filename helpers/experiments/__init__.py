"""Machinery a student can skip: the experiments behind the notebooks' comparisons, each with
its command line, and the readers of their published records.

`benchmark` (parameters, MACs, images per second), `data_efficiency` (test accuracy against
the share of CIFAR-10 trained on), `recipe_ablation` (stochastic depth over seeds, and the
records of the short-budget sweep that notebook 05 reads).
"""
