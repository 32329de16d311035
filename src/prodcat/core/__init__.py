"""The library: text, catalogs, the network and its training, the baseline, metrics, calibration,
explanations, plots, the model card and the promotion decision.

Data in, data out: nothing here knows MLflow or where the pipeline keeps its files.
"""
