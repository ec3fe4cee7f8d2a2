"""The embedded procedural multi-camera tabletop simulator (MuJoCo, extra ``sim``).

Importing this package does not import mujoco; :func:`run_sim` and
:func:`~crossview.sources.sim.episode.simulate_scene` do, lazily. See docs/simulator.md.
"""

from crossview.sources.sim.config import GENERATOR_VERSION, SimConfig
from crossview.sources.sim.runner import SimSummary, run_sim

__all__ = ["GENERATOR_VERSION", "SimConfig", "SimSummary", "run_sim"]
