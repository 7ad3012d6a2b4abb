"""The backend's known third-party noise, beside the serving layer's (``protocol/quiet.py``).

:func:`quiet_known_noise` drops both, narrowly (by logger and message), once per process:
``t2i serve``'s serving process and its granian worker, ``t2i worker``, ``t2i make-tiny-model``.
"""
from __future__ import annotations

import re

from t2i_contract.protocol.quiet import SERVING_NOISE, quiet

__all__ = ["BACKEND_NOISE", "quiet_known_noise"]

BACKEND_NOISE: dict[str, re.Pattern[str]] = {
    # the backend extra leaves torchvision out on purpose (hundreds of MB); transformers then uses the PIL
    # image processors, which is what the safety checker and the IP-Adapters' encoders need
    "transformers.utils.import_utils": re.compile(r"`\w+` requires torchvision \(not installed\); falling back to"),
}


def quiet_known_noise() -> None:
    quiet({**SERVING_NOISE, **BACKEND_NOISE})
