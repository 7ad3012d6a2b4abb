"""One policy for the whole cluster: decided once, in Redis, and followed by every process.

The URL policy (``--private-urls``, ``--url-allow``) and the limits of
intake (``--max-queued``, ``--retry-after``, ``--temp-ttl``) are flags of the API
processes. The first API process on a Redis writes them to ``<ns>:policy``
(:func:`agree`); every later one must be started with the same values, or it
refuses to start and names each difference (so two API processes behind one
balancer can never accept under two sets of rules). Workers take no such flags:
they read the policy from Redis (:class:`PolicyReader`) and post webhooks under it
and date temp images by it, so a webhook an API process accepted is never refused
by the worker that runs the job. Input images are loaded once, at intake, by the
API process, under the same policy; a worker never fetches anything.

To change the policy: stop every API process, ``redis-cli -u URL DEL t2i:policy``,
and start them with the new flags.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from t2i_contract.protocol.outbound import json_poster
from t2i_contract.protocol.urls import UrlPolicy, allows_private

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..config import BackendConfig

__all__ = ["ClusterPolicy", "PolicyMismatch", "PolicyReader", "agree"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClusterPolicy:
    """The settings every process of one cluster must share; their names are BackendConfig's fields."""

    private_urls: str
    url_allow: tuple[str, ...]
    max_queued: int
    retry_after: int
    temp_ttl: float

    @classmethod
    def from_config(cls, config: BackendConfig) -> ClusterPolicy:
        return cls(**{f.name: getattr(config, f.name) for f in fields(cls)})

    @classmethod
    def from_json(cls, text: str) -> ClusterPolicy:
        values: dict[str, Any] = json.loads(text)
        values["url_allow"] = tuple(values.get("url_allow", ()))
        return cls(**{f.name: values[f.name] for f in fields(cls)})

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def url_policy(self, deadline: float) -> UrlPolicy:
        return UrlPolicy(allow_private=allows_private(self.private_urls), allow=self.url_allow, deadline=deadline)


class PolicyMismatch(ConfigError):
    """An API process started with settings other than the cluster's."""


def _key(namespace: str) -> str:
    return f"{namespace}:policy"


def agree(client: Any, namespace: str, mine: ClusterPolicy) -> ClusterPolicy:
    """Write ``mine`` as the cluster's policy unless one is there; raise PolicyMismatch when it differs."""
    client.set(_key(namespace), mine.to_json(), nx=True)
    theirs = ClusterPolicy.from_json(client.get(_key(namespace)))
    if theirs != mine:
        differences = ", ".join(f"--{f.name.replace('_', '-')} {getattr(theirs, f.name)!r} (this process: "
                                f"{getattr(mine, f.name)!r})" for f in fields(ClusterPolicy)
                                if getattr(theirs, f.name) != getattr(mine, f.name))
        raise PolicyMismatch(f"this cluster's policy (in Redis, {_key(namespace)}) is {differences}: start every "
                             f"API process with the same flags, or, to change the policy, stop them all and "
                             f"delete the key (redis-cli DEL {_key(namespace)})")
    return theirs


class PolicyReader:
    """A worker's view of the cluster policy: read from Redis, refreshed on each heartbeat.

    Until an API process has written one, the strictest policy holds (no private URLs)."""

    def __init__(self, client: Any, namespace: str, default: ClusterPolicy) -> None:
        self.client = client
        self.namespace = namespace
        self.current = default

    def refresh(self) -> ClusterPolicy:
        text = self.client.get(_key(self.namespace))
        if text:
            policy = ClusterPolicy.from_json(text)
            if policy != self.current:
                log.info("cluster policy: %s", policy.to_json())
            self.current = policy
        return self.current

    def poster(self, deadline: float) -> Any:
        """``post(url, payload, deadline)`` for a webhook sender, under the policy as it is at each call."""
        def post(url: str, payload: Any, attempt_deadline: float) -> int:
            return json_poster(self.current.url_policy(deadline))(url, payload, attempt_deadline)

        return post
