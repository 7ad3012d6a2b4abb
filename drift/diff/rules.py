"""The ``t2i diff`` rule registry: each rule's id, level and summary, stated once.

Levels: ``error`` (shown as ERR: breaks existing clients), ``warn`` (WARN: may
break some) and ``info`` (INFO: everything else). The comparison code names a
rule and never a level: :func:`finding` looks the level up here, so a rule
cannot be emitted at a level its registration does not say. ``t2i diff
--list-rules`` prints this table.
"""
from __future__ import annotations

from ..findings import Level
from ..rules import RuleInfo, RuleTable

__all__ = ["DIFF_RULES", "DiffRule", "finding"]

DiffRule = RuleInfo

_TABLE: tuple[tuple[str, Level, str], ...] = (
    ("endpoint-removed", "error", "an operation (method and path) is gone"),
    ("endpoint-added", "info", "a new operation"),
    ("request-body-now-required", "error", "a request body became required"),
    ("request-body-removed", "error", "an operation no longer takes a request body"),
    ("request-media-type-removed", "error", "a request media type is no longer accepted"),
    ("request-media-type-added", "info", "a new request media type is accepted"),
    ("response-media-type-removed", "error", "a response media type is no longer sent"),
    ("response-media-type-added", "info", "a new response media type may be sent"),
    ("response-status-removed", "error", "a documented response status is gone"),
    ("response-status-added", "warn", "a new response status clients may not handle"),
    ("request-parameter-required-added", "error", "a parameter is new and required, or became required"),
    ("request-parameter-added", "info", "a new optional parameter"),
    ("request-parameter-removed", "warn", "a parameter is gone; clients still sending it may be refused"),
    ("request-type-changed", "error", "a request value's type no longer accepts what clients send"),
    ("response-type-changed", "error", "a response value may now have a type clients do not expect"),
    ("type-relaxed", "info", "a request value accepts more types"),
    ("type-narrowed", "info", "a response value has fewer possible types"),
    ("request-enum-value-removed", "error", "a request enum lost values, or a request value became an enum"),
    ("request-enum-value-added", "info", "a request enum gained values, or was dropped"),
    ("response-enum-value-added", "warn", "a response enum gained values, or was dropped"),
    ("response-enum-value-removed", "info", "a response enum lost values, or a response value became an enum"),
    ("request-range-narrowed", "error", "a request bound (maximum, minLength, multipleOf...) accepts less"),
    ("request-range-widened", "info", "a request bound accepts more"),
    ("response-range-widened", "warn", "a response bound allows more than before"),
    ("response-range-narrowed", "info", "a response bound allows less than before"),
    ("request-pattern-changed", "warn", "a request string's pattern changed, was added or was removed"),
    ("response-pattern-changed", "info", "a response string's pattern changed"),
    ("default-changed", "warn", "a default changed: clients that omit the value get other behaviour"),
    ("annotation-changed", "info", "a description, title, summary, format, example or tag changed"),
    ("document-changed", "info", "a top-level section (info, servers, security...) changed"),
    ("operation-id-changed", "warn", "an operationId changed; generated clients rename the method"),
    ("security-changed", "warn", "an operation's security requirements changed"),
    ("request-property-removed", "warn", "a request property is gone"),
    ("request-property-added", "info", "a new optional request property"),
    ("response-property-removed", "warn", "an optional response property is gone"),
    ("response-property-added", "info", "a new response property"),
    ("request-required-added", "error", "a request property became required"),
    ("request-required-removed", "info", "a request property became optional"),
    ("response-required-removed", "error", "a response property is no longer guaranteed"),
    ("response-required-added", "info", "a response property is now always present"),
    ("request-additional-properties-closed", "error", "a request object now rejects properties it does not list"),
    ("request-oneof-branch-added", "info", "a request oneOf accepts a new branch"),
    ("request-oneof-branch-removed", "error", "a request oneOf branch is gone"),
    ("response-oneof-branch-added", "warn", "a response oneOf has a new branch"),
    ("response-oneof-branch-removed", "info", "a response oneOf branch is gone"),
    ("request-anyof-branch-added", "info", "a request anyOf accepts a new branch"),
    ("request-anyof-branch-removed", "error", "a request anyOf branch is gone"),
    ("response-anyof-branch-added", "warn", "a response anyOf has a new branch"),
    ("response-anyof-branch-removed", "info", "a response anyOf branch is gone"),
)

DIFF_RULES = RuleTable("diff", _TABLE)
finding = DIFF_RULES.finding
