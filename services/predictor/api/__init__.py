"""The predictor's public routes: predictions (with their explanations), what-if curves, actuals reports."""
