"""Forecasting, shared by the trainer (which trains) and the predictor (which serves the pickled model).

- ``panel``: ``ForecastSpec`` (what the user asked for), ``prepare_panel`` (the long frame ``unique_id``, ``ds``,
  ``y`` + known-future columns) and ``forecast_problems`` (every 422 before training, field → messages).
- ``dates``, ``frequency``, ``windows``: date columns and their parsing, the frequency and season length, where the
  backtest windows go.
- ``metrics``, ``intervals``: MASE, MAE, RMSE, WAPE, sMAPE (MAPE); conformal intervals and their coverage.
- ``forecasters``, ``calendar``: the models (statistical per series, global regression over all series).
- ``model``: ``ForecastModel``, the served object, and the ``ForecastRequestError`` family its requests raise.
"""
