"""hydra-submitit-launcher's SLURM launcher, checking first that SLURM answers.

config/hydra/launcher/slurm.yaml selects it (hydra/launcher=slurm).

Without SLURM, submitit's launcher fails only after a long wait (sbatch missing, or a client
that retries for a minute to reach a controller). This one checks before submitting anything
and stops the sweep with one line saying what is missing.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence

from hydra.core.utils import JobReturn
from hydra.errors import CompactHydraException

from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher

PING_TIMEOUT_S = 5
ADVICE = (
    "start one (scripts/slurm-up.sh) or choose another launcher "
    "(hydra/launcher=parallel or hydra/launcher=basic)"
)


class SlurmUnavailable(CompactHydraException):
    """hydra/launcher=slurm was chosen where no SLURM cluster answers."""


def slurm_problem() -> str | None:
    """Why jobs cannot be submitted to SLURM from here, or None if a controller answers."""
    if shutil.which("sbatch") is None:
        return "no sbatch on PATH (no SLURM client on this machine)"
    try:
        ping = subprocess.run(
            ["scontrol", "ping"], capture_output=True, text=True, timeout=PING_TIMEOUT_S
        )
    except FileNotFoundError:
        return "no scontrol on PATH (incomplete SLURM client)"
    except subprocess.TimeoutExpired:
        return f"no SLURM controller answered `scontrol ping` within {PING_TIMEOUT_S} s"
    answer = (ping.stdout.strip() or ping.stderr.strip()).splitlines()
    if ping.returncode != 0 or " is UP" not in ping.stdout:
        return f"no SLURM controller answers (`scontrol ping`: {answer[0] if answer else ''})"
    return None


class CheckedSlurmLauncher(SlurmLauncher):
    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        problem = slurm_problem()
        if problem is not None:
            raise SlurmUnavailable(
                f"hydra/launcher=slurm needs a SLURM cluster: {problem}; {ADVICE}"
            )
        return super().launch(job_overrides, initial_job_idx)
