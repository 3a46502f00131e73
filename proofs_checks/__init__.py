"""Monte Carlo checks that the RACER lemmas and theorems hold for racer-jax.

Run ``python -m proofs_checks --profile ci --report runs/proofs-ci.json``. Each statement
has its own module: :mod:`~proofs_checks.lemma_4_1` (nested sets),
:mod:`~proofs_checks.lemma_4_2` (the loss), :mod:`~proofs_checks.theorem_4_3` (risk
control), :mod:`~proofs_checks.theorem_4_5` (the risk lower bound) and
:mod:`~proofs_checks.exact_law` (the exact law of the calibrated risk). The calibrator is
a parameter of :func:`run_suite`, so broken calibrators can be run through the same checks.
"""

from .calibrators import CALIBRATORS as CALIBRATORS
from .calibrators import LIBRARY as LIBRARY
from .calibrators import MUTANTS as MUTANTS
from .calibrators import Calibrator as Calibrator
from .profiles import PROFILES as PROFILES
from .profiles import Profile as Profile
from .suite import run_suite as run_suite
from .trials import Setting as Setting
