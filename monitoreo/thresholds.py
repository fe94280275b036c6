"""The monitor's defaults that the CLI's help and the README state: stdlib-free, cheap at start.

``monitoreo.cli`` imports this, not :mod:`monitoreo.states` (which loads the statistics), so
that ``pukara --help`` stays fast.
"""

# The monitor is cut off when at least this share of the watched sites (and at least this many)
# give no answer in the same round. The README states both: a test holds them equal.
ISOLATED_PCT = 60.0
ISOLATED_MIN_SITES = 3
# Loss is judged over an entity's last probes (up to this many), and only with at least so many.
LOSS_WINDOW_PROBES = 150
LOSS_MIN_PROBES = 20
# A problem held back because the entity's parent has one is raised after this many rounds.
PARENT_HOLD_ROUNDS = 10
