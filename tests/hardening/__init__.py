"""Regression tests for issue 10 ("Hardening"), over real HTTP, against both servers where it applies.

One test module per numbered item under the issue's "Why"; each test was run against 5471b43
(the last commit before the fixes, in a scratch worktree) and failed there, unless its
docstring says otherwise. Where an item is already covered elsewhere, it is referenced here,
not repeated:

1. 500s from the spec layer: ``test_hostile_bodies.py`` (parse-time rules: tests/spec/test_hostile_input.py).
2. No URL policy: ``test_url_policy.py`` (address ranges judged without connecting:
   tests/protocol/test_urls.py; the outbound client: tests/protocol/test_outbound.py).
3. Slow receivers starve webhooks: ``test_webhook_starvation.py``.
4. The mock's journal: ``test_journal.py``.
5. Two mocks on one port: ``test_ports.py``.
6. Backend intake: ``test_backend_intake.py`` (limits at the exact bound: tests/servers/cases.py;
   ``--max-queued`` under concurrency: tests/reference_backend/test_app.py).
7. Ownership: ``test_ownership.py``.
8. Mock webhooks after a restart: tests/mock_server/test_restart.py (a mock killed with SIGKILL
   mid-delivery, its webhook sent by the next one); the backend's:
   tests/reference_backend/test_restart.py.
9. Smaller ones: ``test_smaller.py`` (ETA, temporary folder, ``HTTP://``, salted key hashes) and
   ``test_ports.py`` (a port in TIME-WAIT).

Fuzzing (issue 10, Deliver 7) is tests/fuzz's.

Issue 18 ("Hardening, second pass"): one module per item, each test run against f369002
(the last commit before the fixes, in a scratch worktree) and failing there:

1. Bounded decoding (scan bomb, every field, both servers): ``test_decoding.py``; the
   decoder itself: tests/protocol/test_inputs.py.
2. One port, one server, and 3. no orphans after kill -9: ``test_processes.py``; every process a
   session of the suite starts is gone at its end (tests/leaks.py, ``no_process_left_behind``).
4. Fairness per client and resolved address: ``test_fairness.py`` (the sender's shares
   without HTTP: tests/protocol/test_webhooks_starvation.py).
5. Input images fetched once, at intake: ``test_inputs_once.py``.
6. Byte bounds: ``test_byte_bounds.py`` (the mock); the reference backend's store and images,
   ``test_backend_store_bytes.py`` (run against 9f1e3b1, the commit before it, and failing there).
7. The journal's redaction and ownership, and 9. the Host rule: ``test_journal_second.py``; the
   Host of ``--public-url`` accepted, another refused: ``test_public_url.py`` (against 9f1e3b1 too).
8. Slow inputs: ``test_slow_inputs.py``.
10. Embedded-IPv4 IPv6 forms (in a loopback-only network namespace), 11. ``--url-allow``
    repeated, 13. the mock's own flag in its hints: ``test_url_policy_second.py``
    (without connecting: tests/protocol/test_urls.py).
12. Clean messages: ``test_decoding.py`` (the truncated PNG).
"""
