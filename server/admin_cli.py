"""``fedlite admin``: enrolment tokens, devices and rounds of a server's data directory.

Works on the ledger directly (safe while the server runs: SQLite WAL). A running server picks up
revocations within a second.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from server.ledger import Ledger
from server.tokens import create_token, revoke_token


def _when(stamp: float | None) -> str:
    if stamp is None:
        return "never"
    return datetime.datetime.fromtimestamp(stamp).isoformat(timespec="seconds")


def _bump_epoch(conn) -> None:
    conn.execute("INSERT INTO kv(key, value) VALUES('admin_epoch', '1') "
                 "ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)")


def token_create(ledger: Ledger, args: argparse.Namespace) -> int:
    expires = time.time() + args.expires_in if args.expires_in else None
    token = ledger.write(lambda conn: create_token(conn, max_uses=args.uses, expires_at=expires,
                                                   now=time.time(), note=args.note))
    print(token)
    return 0


def token_list(ledger: Ledger, args: argparse.Namespace) -> int:
    rows = ledger.query("SELECT token, uses, max_uses, expires_at, revoked, note FROM tokens ORDER BY created_at")
    for digest, uses, max_uses, expires, revoked, note in rows:
        state = "revoked" if revoked else "used up" if uses >= max_uses else "active"
        print(f"{digest[:12]}  {uses}/{max_uses} uses  expires {_when(expires)}  {state}  {note}")
    return 0


def token_revoke(ledger: Ledger, args: argparse.Namespace) -> int:
    count = ledger.write(lambda conn: revoke_token(conn, args.token_id))
    print(f"revoked {count} token(s)")
    return 0 if count else 1


def device_list(ledger: Ledger, args: argparse.Namespace) -> int:
    rows = ledger.query("SELECT device_id, platform, sdk_version, runtime, enrolled_at, revoked FROM devices "
                        "ORDER BY enrolled_at")
    for device, platform, sdk, runtime, enrolled, revoked in rows:
        print(f"{device}  {platform}  sdk {sdk}  {runtime}  enrolled {_when(enrolled)}"
              f"{'  REVOKED' if revoked else ''}")
    return 0


def device_revoke(ledger: Ledger, args: argparse.Namespace) -> int:
    def revoke(conn) -> int:
        count = conn.execute("UPDATE devices SET revoked = 1 WHERE device_id = ?", (args.device_id,)).rowcount
        _bump_epoch(conn)
        return count

    if not ledger.write(revoke):
        print(f"fedlite admin: no device {args.device_id!r}", file=sys.stderr)
        return 1
    print(f"revoked {args.device_id}")
    return 0


def round_list(ledger: Ledger, args: argparse.Namespace) -> int:
    for r in ledger.rounds(args.limit):
        print(f"round {r['round']:>5}  {r['outcome']:<9}  version {r.get('version')}  "
              f"accepted {r.get('accepted')}  rejected {sum(r.get('rejected', {}).values())}  "
              f"bytes {r.get('bytes')}  closed {_when(r['closed_at'])}")
    current = ledger.open_round()
    if current:
        count = ledger.query("SELECT COUNT(*) FROM updates WHERE round = ?", (current[0],))[0][0]
        print(f"round {current[0]:>5}  open       base version {current[1]}  accepted {count}")
    return 0


def round_show(ledger: Ledger, args: argparse.Namespace) -> int:
    match = [r for r in ledger.rounds(10**9) if r["round"] == args.round]
    if not match:
        print(f"fedlite admin: round {args.round} has not finished", file=sys.stderr)
        return 1
    print(json.dumps(match[0], indent=2, sort_keys=True))
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="fedlite admin", description="Manage a FedLite server's data directory.")
    root.add_argument("--data-dir", type=Path, required=True, help="the server's --data-dir")
    groups = root.add_subparsers(dest="group", required=True)
    token = groups.add_parser("token", help="enrolment tokens").add_subparsers(dest="action", required=True)
    create = token.add_parser("create", help="create a token and print it (shown only once)")
    create.add_argument("--uses", type=int, default=1, help="how many devices may enrol with it (default 1)")
    create.add_argument("--expires-in", type=float, help="seconds until it expires (default: never)")
    create.add_argument("--note", default="", help="a label shown by 'token list'")
    create.set_defaults(run=token_create)
    token.add_parser("list", help="list tokens").set_defaults(run=token_list)
    revoke = token.add_parser("revoke", help="revoke a token by the id shown in 'token list'")
    revoke.add_argument("token_id")
    revoke.set_defaults(run=token_revoke)
    device = groups.add_parser("device", help="devices").add_subparsers(dest="action", required=True)
    device.add_parser("list", help="list devices").set_defaults(run=device_list)
    revoke_device = device.add_parser("revoke", help="refuse every further request of a device")
    revoke_device.add_argument("device_id")
    revoke_device.set_defaults(run=device_revoke)
    rounds = groups.add_parser("round", help="rounds").add_subparsers(dest="action", required=True)
    listing = rounds.add_parser("list", help="list recent rounds")
    listing.add_argument("--limit", type=int, default=20)
    listing.set_defaults(run=round_list)
    show = rounds.add_parser("show", help="print one finished round's record as JSON")
    show.add_argument("round", type=int)
    show.set_defaults(run=round_show)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``fedlite admin``."""
    args = parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    if not (args.data_dir / "ledger.sqlite3").exists():
        print(f"fedlite admin: {args.data_dir} is not a server data directory (no ledger.sqlite3)", file=sys.stderr)
        return 2
    try:
        return args.run(Ledger(args.data_dir / "ledger.sqlite3"), args)
    except ValueError as exc:
        print(f"fedlite admin: {exc}", file=sys.stderr)
        return 2
