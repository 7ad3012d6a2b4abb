"""The mock's request journal: what it keeps of each API call, redacted and bounded, in SQLite.

An entry is kept in the journal table of the mock's store (``store.py``) as one row:
path, answer status and its size in bytes are columns ahead of the rest of the entry
(JSON) and the body (a BLOB, last, in overflow pages), so ``GET
/__mock/requests?path=...&status=...`` filters by reading the small columns of at
most ``journal_limit`` rows (0.2 ms on a full journal of 1,000 entries here; indexes
on path and status made no measurable difference to it and cost every insert), and
``since`` is a range of the primary key.

What an entry keeps, and what it never keeps:

- **No key.** ``Authorization``, ``X-Api-Key``, ``Cookie`` and ``Proxy-Authorization``
  values, a ``key`` query parameter, the ``key`` member of the body (however its name
  and value are escaped, also in a body that is not valid JSON, and one cut short),
  the normalised ``key``, and every one of the mock's ``--keys`` and its
  ``--admin-key`` wherever they appear, in any escaping, are replaced by
  ``[redacted]`` before anything is stored, so neither a GET nor the file on disk
  holds a key.
- **An owner.** With ``--keys``, an entry is stored with a keyed digest of the key it
  was made with (``protocol.ownership``): each key is shown only its own entries
  (``JournalQuery.owner``); an entry made with no valid key only to ``--admin-key``.
- **Short values**: a string of the normalised request longer than :data:`ANSWER_ITEM`
  (a base64 input image, a huge prompt) is kept as its length only.
- **A bounded prefix of the body**: at most :data:`BODY_PREFIX` bytes, with the
  body's true ``size`` and ``truncated``. It is stored as bytes and shown as text
  (``raw``) when it is UTF-8, else as ``raw_base64``: invalid bytes cost 4/3 of a
  byte to show and one to store, never the six of U+FFFD escapes.
- **A bounded whole**: at most ``journal_limit`` entries and about :data:`MAX_BYTES`
  bytes in all (the oldest go first); a trigger keeps the running byte count, checked
  after an entry larger than ``MAX_BYTES / journal_limit`` (smaller ones cannot, by
  their count, take the journal past the bound by more than one such entry).
  ``DELETE`` removes every entry and gives the pages back to the file system
  (incremental vacuum, then a WAL truncate).
"""
from __future__ import annotations

import base64
import json
import re
import sqlite3
from dataclasses import dataclass
from typing import Any, Iterable
from urllib.parse import parse_qsl, urlencode

from t2i_contract.protocol.jsonio import json_text

__all__ = ["BODY_PREFIX", "COLUMNS", "MAX_BYTES", "REDACTED", "SCHEMA", "JournalQuery", "Redactor", "clear",
           "kept_answer", "row", "select", "trim"]

BODY_PREFIX = 16 * 1024
"""Bytes of a request body an entry keeps. An API call's JSON is a few hundred bytes; a
base64 input image is cut, which is what the journal is for (seeing the call), not storage."""
MAX_BYTES = 16 * 1024 * 1024
"""Bytes all entries may take together (their JSON plus their bodies)."""
REDACTED = "[redacted]"
ANSWER_ITEM = 2048
"""Characters of one ``output`` item an entry keeps: a URL is whole, a base64 image is only its length."""
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "cookie"})

SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL DEFAULT '',
    status INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0,
    owner TEXT,
    entry TEXT NOT NULL,
    body BLOB
);
CREATE TABLE IF NOT EXISTS journal_size (id INTEGER PRIMARY KEY CHECK (id = 1), bytes INTEGER NOT NULL);
INSERT OR IGNORE INTO journal_size (id, bytes) VALUES (1, 0);
CREATE TRIGGER IF NOT EXISTS journal_in AFTER INSERT ON journal
    BEGIN UPDATE journal_size SET bytes = bytes + NEW.bytes WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS journal_out AFTER DELETE ON journal
    BEGIN UPDATE journal_size SET bytes = bytes - OLD.bytes WHERE id = 1; END;
"""
COLUMNS = ("seq", "path", "status", "bytes", "owner", "entry", "body")


def migrate(db: sqlite3.Connection) -> None:
    """Create the journal; a journal of an older layout (one JSON column) is dropped, not converted."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(journal)")}
    if columns and not set(COLUMNS) <= columns:
        db.execute("DROP TABLE journal")
    db.executescript(SCHEMA)


class Redactor:
    """Replaces keys in what a journal entry keeps: secret headers, ``key`` members and known keys.

    The body is redacted by its JSON string tokens, each read with its escapes
    (``"\\u006bey"`` is ``"key"``), so no spelling of the member name or of a known key gets
    through; a body that is not valid JSON, or is cut short, is read the same way.
    """

    def __init__(self, keys: Iterable[str] = ()) -> None:
        known = {k for k in keys if k}
        self._known_text = sorted(known, key=len, reverse=True)  # a key inside a longer one goes after it
        self._known = [k.encode("utf-8", "surrogatepass") for k in self._known_text]

    def text(self, value: str) -> str:
        for key in self._known_text:
            value = value.replace(key, REDACTED)
        return value

    def value(self, value: Any) -> Any:
        """``value`` (JSON-like) with every known key in every string replaced."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(v) for v in value]
        return value

    def body(self, raw: bytes) -> bytes:
        """The body with every ``key`` member's value and every known key replaced, whatever the escaping."""
        if not self._known and b"\\" not in raw:
            return _plain_key_members(raw)
        out, last, redact_next = [], 0, False
        for match in _STRING_TOKEN.finditer(raw):
            decoded = _decode_token(match.group(1))
            after = raw[match.end():match.end() + 64].lstrip()
            replaced = self.text(decoded)
            if redact_next:
                replaced, redact_next = REDACTED, False
            elif decoded == "key" and after[:1] == b":" and after[1:].lstrip()[:1] == b'"':
                redact_next = True
            if replaced != decoded:
                out += [raw[last:match.start()], _encode_token(replaced, closed=bool(match.group(2)))]
                last = match.end()
        out.append(raw[last:])
        raw = b"".join(out)
        for key in self._known:
            raw = raw.replace(key, REDACTED.encode())
        return raw

    def headers(self, headers: dict[str, str]) -> dict[str, str]:
        return {name: REDACTED if name.lower() in SECRET_HEADERS else self.text(value)
                for name, value in headers.items()}

    def query(self, query: str) -> str:
        if not query:
            return query
        pairs = parse_qsl(query, keep_blank_values=True)
        return urlencode([(n, REDACTED if n.lower() == "key" else self.text(v)) for n, v in pairs])

    def longest(self) -> int:
        return len(self._known[0]) if self._known else 0


_REDACTED_TOKEN = json.dumps(REDACTED).encode()
_STRING_TOKEN = re.compile(rb'"((?:[^"\\]|\\.)*)("|\\?\Z)', re.DOTALL)


def _plain_key_members(raw: bytes) -> bytes:
    """:meth:`Redactor.body` for a body without escapes and no known keys, at C speed per byte.

    Without a backslash every string token runs from one quote to the next, so a
    ``"key"`` is a token exactly where an even number of quotes precede it; the value
    after it (the next token) is replaced as the general path replaces it, byte for byte.
    """
    out, last, pos = [], 0, 0
    while (at := raw.find(b'"key"', pos)) >= 0:
        pos = at + 1
        if raw.count(b'"', last, at) % 2:  # inside a string (quotes before ``last`` pair up)
            continue
        after = raw[at + 5:at + 5 + 64].lstrip()
        if after[:1] != b":" or after[1:].lstrip()[:1] != b'"':
            pos = at + 5  # a token of its own, followed by something else
            continue
        start = raw.find(b'"', at + 5)
        end = raw.find(b'"', start + 1)
        out += [raw[last:start], _REDACTED_TOKEN if end >= 0 else _REDACTED_TOKEN[:-1]]
        last = pos = len(raw) if end < 0 else end + 1
    if not out:
        return raw
    out.append(raw[last:])
    return b"".join(out)


def _decode_token(content: bytes) -> str:
    """A JSON string's content as text, escapes read; invalid UTF-8 kept as surrogates."""
    text = content.decode("utf-8", "surrogateescape")
    if b"\\" not in content:  # no escapes: the text as it stands is what JSON reads (the common case)
        return text
    try:
        return str(json.loads(f'"{text}"'))
    except ValueError:  # a broken escape, or cut short inside one: the text as it stands
        return text


def _encode_token(text: str, *, closed: bool) -> bytes:
    token = json.dumps(text, ensure_ascii=False).encode("utf-8", "surrogateescape")
    return token if closed else token[:-1]


def kept_answer(body: dict[str, Any] | None) -> dict[str, Any] | None:
    """The answer as the journal keeps it: base64 images shortened, the value of a ``key`` problem redacted."""
    if not isinstance(body, dict):
        return None
    kept = dict(body)
    if isinstance(kept.get("output"), list):
        kept["output"] = [item if not isinstance(item, str) or len(item) <= ANSWER_ITEM else
                          f"[base64, {len(item)} characters]" for item in kept["output"]]
    if isinstance(kept.get("errors"), list):
        kept["errors"] = [{**problem, "value": REDACTED} if isinstance(problem, dict) and problem.get("field") == "key"
                          else problem for problem in kept["errors"]]
    return kept


def _show_body(prefix: bytes, truncated: bool) -> dict[str, Any]:
    """``raw`` when the kept bytes are UTF-8 (a character cut by the prefix dropped), else ``raw_base64``."""
    try:
        return {"raw": prefix.decode("utf-8")}
    except UnicodeDecodeError as exc:
        if truncated and exc.start >= len(prefix) - 3 and exc.reason == "unexpected end of data":
            return {"raw": prefix[:exc.start].decode("utf-8")}
        return {"raw_base64": base64.b64encode(prefix).decode("ascii")}


def row(seq: int, entry: dict[str, Any], redactor: Redactor) -> tuple[Any, ...]:
    """One entry as the journal stores it, redacted and cut: its row, in the order of ``COLUMNS``.

    Its ``bytes`` (the JSON and the kept body) count against the journal's ``max_bytes``. Rows go
    in as their transaction ends, and :func:`trim` trims the journal once for all of them.
    """
    entry = dict(entry)
    raw = entry.pop("body", b"") or b""
    owner = entry.pop("owner", None)
    # redact a little past the prefix, so a key cut by the prefix is still found whole
    window = redactor.body(raw[:BODY_PREFIX + redactor.longest() + 64])
    prefix = window[:BODY_PREFIX]
    entry["size"] = len(raw)
    entry["truncated"] = len(raw) > BODY_PREFIX or len(window) > BODY_PREFIX
    entry["headers"] = redactor.headers(entry.get("headers") or {})
    entry["query"] = redactor.query(entry.get("query") or "")
    normalised = entry.get("normalised")
    if isinstance(normalised, dict):  # a base64 input image or a huge prompt is shown by its length
        entry["normalised"] = {name: f"[{len(value)} characters]" if isinstance(value, str)
                               and len(value) > ANSWER_ITEM else value for name, value in normalised.items()}
        if "key" in normalised:
            entry["normalised"]["key"] = REDACTED
    text = json_text(entry, default=str)
    if redactor.longest():  # known keys: replaced in every string of the entry as JSON reads it back
        text = json_text(redactor.value(json.loads(text)))
    return seq, str(entry.get("path", "")), int(entry.get("status") or 0), len(text) + len(prefix), owner, text, prefix


def trim(db: sqlite3.Connection, newest: int, largest: int, *, limit: int, max_bytes: int = MAX_BYTES) -> None:
    """Keep the journal to ``limit`` entries and ``max_bytes`` after entries up to seq ``newest`` went in.

    ``largest`` is the size of the largest of them: entries no larger than ``max_bytes / limit``
    cannot, by their count, take the journal much past ``max_bytes``, so the bytes are then not
    even read. The entry ``newest`` itself always stays.
    """
    db.execute("DELETE FROM journal WHERE seq <= ?", (newest - limit,))
    if largest <= max_bytes // max(limit, 1):
        return
    while db.execute("SELECT bytes FROM journal_size WHERE id = 1").fetchone()[0] > max_bytes:
        db.execute("DELETE FROM journal WHERE seq = (SELECT MIN(seq) FROM journal) AND seq < ?", (newest,))
        if db.execute("SELECT changes()").fetchone()[0] == 0:
            break  # only the new entry is left


@dataclass(frozen=True)
class JournalQuery:
    """Filters of ``GET /__mock/requests``: entries after ``since``, oldest first; ``limit`` keeps the newest N.

    ``path`` keeps entries whose path starts with it; ``status`` an exact status (``404``)
    or a class (``4xx``).
    """

    limit: int | None = None
    since: int = 0
    path: str | None = None
    status: str | None = None
    owner: str | None = None
    """Only the entries of this owner (a keyed digest of its key); None: every entry (no keys, or the admin)."""


def select(db: sqlite3.Connection, query: JournalQuery) -> list[dict[str, Any]]:
    sql, args = ["SELECT seq, entry, body FROM journal WHERE seq > ?"], [query.since]
    if query.owner is not None:
        sql.append("AND owner = ?")
        args.append(query.owner)
    if query.path:
        sql.append("AND path >= ? AND path < ?")
        args += [query.path, query.path + "\U0010ffff"]
    if query.status:
        if query.status.endswith("xx"):
            low = int(query.status[0]) * 100
            sql.append("AND status >= ? AND status < ?")
            args += [low, low + 100]
        else:
            sql.append("AND status = ?")
            args.append(int(query.status))
    sql.append("ORDER BY seq DESC LIMIT ?")  # limit: the newest N, as the mock's page lists them
    args.append(-1 if query.limit is None else query.limit)
    rows = db.execute(" ".join(sql), args).fetchall()[::-1]
    shown = []
    for seq, text, body in rows:
        entry = json.loads(text)
        shown.append({"seq": seq, **entry, **_show_body(bytes(body or b""), bool(entry.get("truncated")))})
    return shown


def clear(db: sqlite3.Connection, owner: str | None = None) -> int:
    """Delete every entry (of ``owner`` only, when given) and hand the freed pages back; how many.

    The caller holds the write lock.
    """
    if owner is None:
        gone = int(db.execute("DELETE FROM journal").rowcount)
    else:
        gone = int(db.execute("DELETE FROM journal WHERE owner = ?", (owner,)).rowcount)
    db.executescript("PRAGMA incremental_vacuum;")  # one page per step: sqlite3_exec steps it to the end
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    return gone
