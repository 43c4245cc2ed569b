#!/usr/bin/env python3
"""Independent verifier of a pinward ledger export (JSON Lines), Python 3 standard library only.

    python3 verify_ledger.py FILE [--key BASE64_OR_FILE] [--from SEQ]

Prints "ok N events" and exits 0, or prints "error: line L: REASON" on stderr and exits 1
(2 for usage or I/O errors). Written from pinward's DESIGN.md ("Ledger", "Interfaces"), not
from the Rust code, so that the two implementations check each other.

What it checks, line by line:
  * each line ends with "\\n", is at most 1 MiB, is UTF-8 JSON, and is byte for byte its own
    RFC 8785 (JCS) canonical form: members sorted by UTF-16 code units, no whitespace,
    shortest escapes; numbers only integers within +-(2^53-1); no duplicate members;
  * events have exactly the members seq, org, at, actor, action, subject, details, prev, hash;
    seq >= 1; org non-empty; at is UTC YYYY-MM-DDTHH:MM:SS.ffffffZ (a real date, seconds
    00-59, years 0001-9999); actor is system, user:<id> or token:<id> (id of 1-128
    [A-Za-z0-9._-]); action is two or more [a-z][a-z0-9_]* segments joined by dots; details
    is an object; prev and hash are 64 lowercase hex digits;
  * hash = lowercase hex SHA-256 of the JCS of the event without "hash";
  * one org throughout; seq consecutive; prev = previous hash; the first event is seq 1 with
    prev = 64 zeros (or seq SEQ with --from SEQ, a range export whose first prev points
    outside the file);
  * the last line is {"checkpoint":{"at","head","org","seq"},"key","signature"} with exactly
    those members, covering the last event (same org, seq and head; an export without events
    has seq 0 and 64 zeros); key and signature are canonical standard base64 of 32 and 64
    bytes; with --key the key must equal the pinned key; the Ed25519 signature (RFC 8032,
    verified here in pure Python, cofactorless, small-order keys and R refused) must verify
    over the JCS of the checkpoint object; nothing follows the checkpoint line.
"""

import base64
import datetime
import hashlib
import json
import os
import re
import sys

MAX_SAFE = 2**53 - 1
MAX_LINE = 1024 * 1024
ZEROS = "0" * 64
EVENT_MEMBERS = {"seq", "org", "at", "actor", "action", "subject", "details", "prev", "hash"}
LINE_MEMBERS = {"checkpoint", "key", "signature"}
CHECKPOINT_MEMBERS = {"at", "head", "org", "seq"}
HEX64 = re.compile(r"[0-9a-f]{64}")
AT = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.[0-9]{6}Z")
ACTOR = re.compile(r"system|(user|token):[A-Za-z0-9._-]{1,128}")
ACTION = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")


class Bad(Exception):
    """A verification failure; the message is the reason."""


# ---------------------------------------------------------------- Ed25519 (RFC 8032, 6)
P = 2**255 - 19
Q = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
IDENTITY = (0, 1, 1, 0)


def _add(a, b):
    x = (a[1] - a[0]) * (b[1] - b[0]) % P
    y = (a[1] + a[0]) * (b[1] + b[0]) % P
    c = 2 * a[3] * b[3] * D % P
    z = 2 * a[2] * b[2] % P
    e, f, g, h = y - x, z - c, z + c, y + x
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _mul(s, pt):
    acc = IDENTITY
    while s > 0:
        if s & 1:
            acc = _add(acc, pt)
        pt = _add(pt, pt)
        s >>= 1
    return acc


def _equal(a, b):
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


def _recover_x(y, sign):
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P)
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if (x & 1) != sign:
        x = P - x
    return x


def _decompress(data):
    y = int.from_bytes(data, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    x = _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % P)


_GY = 4 * pow(5, P - 2, P) % P
_GX = _recover_x(_GY, 0)
BASE = (_GX, _GY, 1, _GX * _GY % P)


def ed25519_verify(public, message, signature):
    a = _decompress(public)
    r = _decompress(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if a is None or r is None or s >= Q:
        return False
    if _equal(_mul(8, a), IDENTITY) or _equal(_mul(8, r), IDENTITY):
        return False  # small-order key or R: anyone could forge
    k = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % Q
    return _equal(_mul(s, BASE), _add(r, _mul(k, a)))


# ---------------------------------------------------------------- JSON and JCS
def _no_float(_text):
    raise Bad("numbers must be integers within +-(2^53-1)")


def _int(text):
    value = int(text)
    if abs(value) > MAX_SAFE:
        raise Bad("numbers must be integers within +-(2^53-1)")
    return value


def _object(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise Bad("duplicate member")
        obj[key] = value
    return obj


def parse(text):
    return json.loads(text, parse_float=_no_float, parse_int=_int, parse_constant=_no_float,
                      object_pairs_hook=_object)


def jcs(value):
    """RFC 8785 canonical JSON of a float-free value."""
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: kv[0].encode("utf-16-be"))
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + jcs(v) for k, v in items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(jcs(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


# UTF-8 lead bytes of U+E000 and above (0xEE, 0xEF: rest of the BMP; 0xF0-0xF4: beyond it).
HIGH = re.compile(rb"[\xee-\xff]")


def jcs_bytes(value, raw):
    """jcs(value) as UTF-8. Sorting by code point equals sorting by UTF-16 code units unless a
    key has a character at or above U+E000; when `raw` (the text the value was parsed from)
    has none, the C encoder may sort."""
    if HIGH.search(raw) is None:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    else:
        text = jcs(value)
    return text.encode("utf-8")


# ---------------------------------------------------------------- checks
def check_members(obj, expected):
    if not isinstance(obj, dict):
        raise Bad("not a JSON object")
    if set(obj) != expected:
        raise Bad("members must be exactly " + ", ".join(sorted(expected)))


def check_string(obj, name):
    if not isinstance(obj[name], str):
        raise Bad("member %s must be a string" % name)
    return obj[name]


def check_int(obj, name, minimum):
    value = obj[name]
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise Bad("member %s must be an integer >= %d" % (name, minimum))
    return value


def check_at(obj):
    text = check_string(obj, "at")
    m = AT.fullmatch(text)
    try:
        if not m:
            raise ValueError
        y, mo, d, h, mi, s = (int(g) for g in m.groups())
        datetime.datetime(y, mo, d, h, mi, s)  # seconds 0-59, real dates, years 1-9999
    except ValueError:
        raise Bad("member at is not UTC YYYY-MM-DDTHH:MM:SS.ffffffZ") from None


def check_hex(obj, name):
    if not HEX64.fullmatch(check_string(obj, name)):
        raise Bad("member %s must be 64 lowercase hex digits" % name)
    return obj[name]


def decode_b64(text, length, what):
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raw = b""
    if len(raw) != length or base64.b64encode(raw).decode("ascii") != text:
        raise Bad("checkpoint %s is not canonical base64 of %d bytes" % (what, length))
    return raw


class Verifier:
    def __init__(self, pinned_key, first_seq):
        self.pinned_key = pinned_key
        self.first_seq = first_seq
        self.org = None
        self.seq = 0
        self.head = ZEROS
        self.events = 0
        self.done = False

    def line(self, body):
        try:
            obj = parse(body.decode("utf-8"))
        except (ValueError, RecursionError):
            raise Bad("not well-formed JSON") from None
        if not isinstance(obj, dict):
            raise Bad("not a JSON object")
        if "checkpoint" in obj:
            self.checkpoint(obj, body)
        else:
            self.event(obj, body)

    def canonical_check(self, obj, body):
        try:
            if jcs_bytes(obj, body) != body:
                raise Bad("not in canonical (JCS) form")
        except UnicodeEncodeError:
            raise Bad("not well-formed JSON (lone surrogate)") from None

    def event(self, obj, body):
        check_members(obj, EVENT_MEMBERS)
        for name in ("org", "at", "actor", "action", "subject", "prev", "hash"):
            check_string(obj, name)
        if not isinstance(obj["details"], dict):
            raise Bad("member details must be an object")
        seq = check_int(obj, "seq", 1)
        self.canonical_check(obj, body)
        check_at(obj)
        if not ACTOR.fullmatch(obj["actor"]):
            raise Bad("member actor is not system, user:<id> or token:<id>")
        if not ACTION.fullmatch(obj["action"]):
            raise Bad("member action is not a dotted lowercase name")
        if obj["org"] == "":
            raise Bad("member org is empty")
        prev, claimed = check_hex(obj, "prev"), check_hex(obj, "hash")
        unhashed = {k: v for k, v in obj.items() if k != "hash"}
        if hashlib.sha256(jcs_bytes(unhashed, body)).hexdigest() != claimed:
            raise Bad("hash does not match the event's content")
        if self.org is None:
            if self.first_seq is not None and seq != self.first_seq:
                raise Bad("export starts at seq %d, expected %d" % (seq, self.first_seq))
            if seq == 1 and prev != ZEROS:
                raise Bad("seq 1 must have prev = 64 zeros")
            self.org = obj["org"]
        else:
            if obj["org"] != self.org:
                raise Bad("org differs from the first event's org")
            if seq != self.seq + 1:
                raise Bad("seq %d does not follow seq %d" % (seq, self.seq))
            if prev != self.head:
                raise Bad("prev does not match the previous event's hash")
        self.seq, self.head, self.events = seq, claimed, self.events + 1

    def checkpoint(self, obj, body):
        check_members(obj, LINE_MEMBERS)
        cp = obj["checkpoint"]
        check_members(cp, CHECKPOINT_MEMBERS)
        for name in ("at", "head", "org"):
            check_string(cp, name)
        check_string(obj, "key")
        check_string(obj, "signature")
        seq = check_int(cp, "seq", 0)
        self.canonical_check(obj, body)
        check_at(cp)
        head = check_hex(cp, "head")
        if cp["org"] == "":
            raise Bad("checkpoint org is empty")
        key = decode_b64(obj["key"], 32, "key")
        signature = decode_b64(obj["signature"], 64, "signature")
        if self.org is None:
            if seq != 0 or head != ZEROS:
                raise Bad("checkpoint does not cover the last event")
        else:
            if cp["org"] != self.org:
                raise Bad("checkpoint org differs from the events' org")
            if seq != self.seq or head != self.head:
                raise Bad("checkpoint does not cover the last event")
        if self.pinned_key is not None and key != self.pinned_key:
            raise Bad("checkpoint signed by a key other than the pinned key")
        if not ed25519_verify(key, jcs_bytes(cp, body), signature):
            raise Bad("checkpoint signature does not verify")
        self.done = True


def load_key(arg):
    """--key takes the base64 public key itself or a file holding it ('#' comments allowed)."""
    text = arg
    if os.path.exists(arg):
        with open(arg, encoding="utf-8") as f:
            lines = [l.strip() for l in f if l.strip() and not l.strip().startswith("#")]
        if len(lines) != 1:
            raise ValueError("key file must hold exactly one base64 line")
        text = lines[0]
    raw = base64.b64decode(text, validate=True)
    if len(raw) != 32 or base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("not base64 of a 32-byte Ed25519 public key")
    return raw


def verify(path, pinned_key, first_seq):
    """Returns the number of events; raises Bad with .line set."""
    v = Verifier(pinned_key, first_seq)
    number = 0
    with open(path, "rb") as f:
        for raw in f:
            number += 1
            try:
                if v.done:
                    raise Bad("content after the checkpoint line")
                terminated = raw.endswith(b"\n")
                body = raw[:-1] if terminated else raw
                if len(body) > MAX_LINE:
                    raise Bad("line longer than %d bytes" % MAX_LINE)
                if not terminated:
                    raise Bad("last line is not terminated by a newline")
                v.line(body)
            except Bad as e:
                e.line = number
                raise
    if not v.done:
        e = Bad("missing checkpoint line at end of export")
        e.line = number + 1
        raise e
    return v.events


def main(argv):
    args, pinned_key, first_seq = [], None, 1
    it = iter(argv)
    try:
        for a in it:
            if a == "--key":
                pinned_key = load_key(next(it))
            elif a == "--from":
                first_seq = int(next(it))
            else:
                args.append(a)
        if len(args) != 1:
            raise ValueError("usage: verify_ledger.py FILE [--key BASE64_OR_FILE] [--from SEQ]")
        events = verify(args[0], pinned_key, first_seq)
    except Bad as e:
        print("error: line %d: %s" % (e.line, e), file=sys.stderr)
        return 1
    except (ValueError, StopIteration, OSError) as e:
        print("error: %s" % (e or "usage: verify_ledger.py FILE [--key BASE64_OR_FILE] [--from SEQ]"),
              file=sys.stderr)
        return 2
    if pinned_key is None:
        print("warning: no --key given; the signature was checked against the key inside the file",
              file=sys.stderr)
    print("ok %d events" % events)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
