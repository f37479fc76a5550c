"""Mail archives (mbox, GNU Mailman/pipermail monthly ``YYYY-Month.txt`` and ``.txt.gz``) to events.

A message answers the message named in In-Reply-To (else the last id in References). A message with
neither, or whose parent is not in the archive, starts a thread (a POST). The actor is the sender's
address, lower-cased, with pipermail's "user at host" turned back into "user@host"; the time is the
Date header in UTC. A response to a POST is a COMMENT, a response to a response a REPLY. Messages
with no sender or an unparseable date are counted and skipped, and so are senders whose address is
no actor id (:mod:`importers.ids`: control or format characters, bad_actor_id; over the id limit,
actor_id_too_long). Display names lose control and format characters and are cut at the id limit. The archive is read twice, streaming:
once to index message ids (id -> sender, time, parent), once to emit events, so memory grows with
the number of messages, not with their size. Lines are read in bounded memory: a message with a header
line, or a header block, longer than ``max_line_bytes`` (default 1 MiB) is a counted skip
(line_too_long, header_too_long); an over-long body line is dropped unread (bodies are not used). The
site is the list name (default: the folder name). :func:`mbox_actors` names the senders from their
From headers, for ``import mbox --actors-out``.
"""
from __future__ import annotations

import datetime as dt
import email.utils
import gzip
import re
from collections import Counter
from email.header import Header, decode_header, make_header
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator, NamedTuple, Optional

from importers.core import Item, Skipped, event, first_problem
from importers.ids import actor_id_problem, clean_name
from importers.lines import DEFAULT_MAX_LINE_BYTES, bounded_lines

_OBFUSCATED = re.compile(r"^\s*([^\s@<>()\"]+)\s+at\s+([^\s@<>()\"]+)", re.IGNORECASE)
_MSGID = re.compile(r"<[^<>\s]+>")
# A separator is "From <sender> <asctime date>"; a body line that merely starts with "From " (unescaped
# in many pipermail archives) is not one.
_FROM_LINE = re.compile(rb"^From \S+(?: at \S+)?\s+\w{3} \w{3}\s+\d{1,2} \d{1,2}:\d{2}:\d{2} \d{4}\s*$")


class Message(NamedTuple):
    origin: str
    msgid: Optional[str]
    sender: Optional[str]
    created: Optional[dt.datetime]
    parent: Optional[str]
    too_long: Optional[str] = None  # "line_too_long" or "header_too_long": the headers were not read
    name: Optional[str] = None  # the sender's display name, read only for the actors file


def normalize_sender(header: Optional[str]) -> Optional[str]:
    """The sender's address, lower case; pipermail's "user at host (Name)" restored to user@host."""
    if not header:
        return None
    text = str(make_header(decode_header(header))) if "=?" in header else header
    obfuscated = _OBFUSCATED.match(text)
    if obfuscated:
        return f"{obfuscated.group(1)}@{obfuscated.group(2)}".lower()
    _, address = email.utils.parseaddr(text)
    return address.lower() if "@" in address else None


def sender_name(header: Optional[str]) -> Optional[str]:
    """The display name of a From header ("Name <addr>", pipermail's "user at host (Name)", RFC 2047
    encoded or not), or None when the header gives an address alone. Undecodable bytes become U+FFFD."""
    if not header:
        return None
    text = str(make_header(decode_header(header))) if "=?" in header else header
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    name = " ".join(email.utils.parseaddr(text)[0].split())
    return name if name and name.lower() != (normalize_sender(header) or "") else None


def parse_date(header: Optional[str]) -> Optional[dt.datetime]:
    if not header:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)


def _parent_id(in_reply_to: Optional[str], references: Optional[str]) -> Optional[str]:
    ids = _MSGID.findall(in_reply_to or "")
    if ids:
        return ids[0]
    ids = _MSGID.findall(references or "")
    return ids[-1] if ids else None


def _open(path: Path) -> BinaryIO:
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _raw_messages(path: Path, limit: int) -> Iterator[tuple[int, Optional[bytes], Optional[str]]]:
    """(line number of the "From " separator, header bytes or None, why None) of each message,
    streaming; no line and no header block over ``limit`` bytes is ever held."""
    header: list[bytes] = []
    size = 0
    in_header = False
    start = 0
    problem: Optional[str] = None
    with _open(path) as stream:
        for number, line in bounded_lines(stream, limit):
            if line is not None and _FROM_LINE.match(line):
                if start:
                    yield start, None if problem else b"".join(header), problem
                header, size, in_header, start, problem = [], 0, True, number, None
            elif in_header:
                if line is None:
                    problem, header = problem or "line_too_long", []
                elif line in (b"\n", b"\r\n"):
                    in_header = False
                elif not problem:
                    size += len(line)
                    if size > limit:
                        problem, header = "header_too_long", []
                    else:
                        header.append(line)
    if start:
        yield start, None if problem else b"".join(header), problem


def read_messages(paths: Iterable[Path], max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
                  with_names: bool = False) -> Iterator[Message]:
    """Each message's headers as a :class:`Message`; its sender's display name too ``with_names``."""
    parser = BytesHeaderParser(policy=compat32)
    for path in paths:
        for line, raw, problem in _raw_messages(path, max_line_bytes):
            if raw is None:
                yield Message(f"{path.name}:{line}", None, None, None, None, problem)
                continue
            headers = parser.parsebytes(raw)
            msgid = _MSGID.findall(str(headers.get("Message-ID", "")))
            yield Message(
                f"{path.name}:{line}",
                msgid[0] if msgid else None,
                normalize_sender(_text(headers.get("From"))),
                parse_date(_text(headers.get("Date"))),
                _parent_id(_text(headers.get("In-Reply-To")), _text(headers.get("References"))),
                name=sender_name(_text(headers.get("From"))) if with_names else None,
            )


def _text(value: object) -> Optional[str]:
    """A header as text: compat32 hands raw 8-bit headers over as email.header.Header objects, whose
    str() turns every byte that is not ASCII into U+FFFD (so that "zoë@" and "zoé@" were one actor,
    and a zero-width space in an address went unseen); raw bytes are read as UTF-8 instead."""
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, Header):
        return str(value)
    parts = []
    for chunk, charset in decode_header(value):
        if isinstance(chunk, str):
            parts.append(chunk)
        else:
            try:
                parts.append(chunk.decode(charset if charset and charset != "unknown-8bit" else "utf-8", "replace"))
            except LookupError:  # a charset Python does not know
                parts.append(chunk.decode("utf-8", "replace"))
    return "".join(parts)


def archive_files(paths: Iterable[Path]) -> list[Path]:
    """The files to read: given files, or each folder's *.mbox, *.txt and *.txt.gz, sorted."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.name.endswith((".mbox", ".txt", ".txt.gz"))))
        else:
            files.append(path)
    return files


def _files_and_site(paths: Iterable[Path], site: Optional[str]) -> tuple[list[Path], str]:
    files = archive_files(paths)
    if not files:
        raise FileNotFoundError("no mbox or pipermail files found")
    return files, site or files[0].resolve().parent.name


def mbox_actors(paths: Iterable[Path], site: Optional[str] = None,
                max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[dict[str, Any]]:
    """One record per sender of a message that can be an event (a sender, a date and a Message-ID),
    in order of first message: site and actor_id as in the events, and the display name the sender
    used most (the first of equals; None when they only ever gave an address)."""
    files, site = _files_and_site(paths, site)
    names: dict[str, Counter[str]] = {}
    for message in read_messages(files, max_line_bytes, with_names=True):
        if message.msgid and message.created and actor_id_problem(message.sender) is None:
            used = names.setdefault(message.sender, Counter())
            name = clean_name(message.name)
            if name:
                used[name] += 1
    for sender, used in names.items():
        yield {"site": site, "actor_id": sender, "name": used.most_common(1)[0][0] if used else None}


def import_mbox(paths: Iterable[Path], site: Optional[str] = None,
                max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[Item]:
    files, site = _files_and_site(paths, site)
    index: dict[str, Message] = {}
    for message in read_messages(files, max_line_bytes):
        if (message.msgid and message.created and message.msgid not in index
                and actor_id_problem(message.sender) is None):
            index[message.msgid] = message

    def root_of(msgid: str) -> str:
        seen = set()
        while True:
            parent = index[msgid].parent
            if parent is None or parent not in index or parent in seen:
                return msgid
            seen.add(msgid)
            msgid = parent

    emitted: set[str] = set()
    for message in read_messages(files, max_line_bytes):
        if message.too_long:
            yield Skipped(message.too_long, message.origin)
            continue
        sender_problem = actor_id_problem(message.sender)  # the checks of every importer's actor ids
        problem = first_problem(message.origin, [
            (message.sender is not None, "no_sender"),
            (sender_problem is None, sender_problem or ""),
            (message.created is not None, "bad_date"),
            (message.msgid is not None, "no_message_id"),
            (message.msgid not in emitted, "duplicate_message_id"),
        ])
        if problem:
            yield problem
            continue
        emitted.add(message.msgid)
        parent = index.get(message.parent) if message.parent else None
        if parent is None:
            yield event("POST", site, message.msgid, message.msgid, message.sender, message.created,
                        origin=message.origin)
            continue
        kind = "REPLY" if parent.parent in index else "COMMENT"
        yield event(kind, site, root_of(message.msgid), message.msgid, message.sender, message.created,
                    parent_id=parent.msgid, parent_actor_id=parent.sender, parent_created_at=parent.created,
                    origin=message.origin)
