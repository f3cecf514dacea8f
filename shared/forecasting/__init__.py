"""Forecasting: the long frame, the served model and its metrics (used by the trainer and the predictor)."""
