"""Where the rolling-origin backtest puts its windows: the one rule, used to validate a request and to train.

Every series ends on the panel's last date (see ``panel``), so a window is given by how many periods before that
end its origin lies; its forecast covers the ``horizon`` periods after the origin and is scored on those of them
the data has.

The rule: each origin leaves at least two seasons of history before it in the shortest series when the data has
them (a window with less misleads selection: seasonal models cannot see the season and seasonal naive wins), and
one season and a period otherwise (seasonal naive, and the MASE scale, need that much). Windows step back by the
horizon when there is room, by less (overlapping) when there is not; and when two seasons leave less than a
horizon after them, the windows are cut short: each scores at least a quarter of the horizon.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_HISTORY = 4  # fewest periods any model is fitted on


@dataclass(frozen=True)
class BacktestWindow:
    periods_after_origin: int  # the origin is this many periods before the panel's last date
    scored_steps: int  # horizon steps with actuals: min(horizon, periods_after_origin)


def min_scored_steps(horizon: int) -> int:
    return max(1, math.ceil(horizon / 4))


def min_history(shortest: int, horizon: int, windows: int, season_length: int) -> int:
    """Periods of history before the earliest origin: two seasons when the shortest series has room for them."""
    two_seasons = 2 * season_length
    if season_length > 1 and shortest >= two_seasons + min_scored_steps(horizon) + windows - 1:
        return two_seasons
    return max(season_length + 1, MIN_HISTORY)


def periods_needed(horizon: int, windows: int, season_length: int) -> int:
    """The fewest periods a series needs for the backtest (with under two seasons of history)."""
    return max(season_length + 1, MIN_HISTORY) + min_scored_steps(horizon) + windows - 1


def max_horizon(shortest: int) -> int:
    """The longest horizon a history supports: a forecast needs at least as many periods behind it as ahead."""
    return shortest // 2


def plan_windows(shortest: int, horizon: int, windows: int, season_length: int) -> list[BacktestWindow]:
    """The windows, earliest first; ValueError when the shortest series is too short for them."""
    history = min_history(shortest, horizon, windows, season_length)
    room = shortest - history  # the most periods a window may leave after its origin
    least = min_scored_steps(horizon)
    if room < least + windows - 1:
        raise ValueError(f"needs at least {periods_needed(horizon, windows, season_length)} periods")
    if windows == 1:
        backs = [min(horizon, room)]
    elif room >= windows * horizon:
        backs = [horizon * (k + 1) for k in range(windows)]
    elif room >= horizon + windows - 1:
        step = (room - horizon) // (windows - 1)
        backs = [horizon + step * k for k in range(windows)]
    else:
        step = (room - least) // (windows - 1)
        backs = [room - step * k for k in range(windows)]
    return [BacktestWindow(back, min(horizon, back)) for back in sorted(backs, reverse=True)]
