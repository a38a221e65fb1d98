"""Quality score in [0, 1] for every link.

A logistic map of the link's normalized distance `d` (see align.py), with a midpoint and slope
stored per encoder in `models/`. For a 1-1 or merged link the score is the estimated chance that
the link is right; for a skip (1-0, 0-1) it is the chance that the sentence really has no
counterpart, i.e. one minus the score of its best match nearby.
"""

from __future__ import annotations

import math

from .align import Link

DEFAULT_CALIBRATION = {"midpoint": 0.75, "slope": 9.0}


def link_score(link: Link, calibration: dict | None = None) -> float:
    cal = calibration or DEFAULT_CALIBRATION
    z = cal["slope"] * (link.distance - cal["midpoint"])
    match = 1.0 / (1.0 + math.exp(min(max(z, -50.0), 50.0)))
    return match if link.src and link.tgt else 1.0 - match
