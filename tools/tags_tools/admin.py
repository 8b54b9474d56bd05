"""Operator CLI: tenants and API keys, against the deployed table or a local one (`tags-admin`).

    tags-admin create-tenant "Acme Inc" [--id acme]
    tags-admin create-key acme --role write [--label "CRM sync"]
    tags-admin list-keys acme
    tags-admin revoke-key acme <key id>
    tags-admin dlq list commands|stream          messages of a dead-letter queue (docs/operations.md)
    tags-admin dlq show commands|stream <message id>   one message, with why it failed
    tags-admin dlq redrive commands|stream (<message id> | --all)   apply it again; safe to run twice

Global options: --table (default $TABLE_NAME, else tags-local), --endpoint-url (default $DYNAMODB_ENDPOINT_URL;
e.g. the `DynamoDB:` line printed by tags-local), --region (default $AWS_REGION, else us-east-1), --json.
Credentials come from the usual AWS sources. A key is shown once, when it is created; only its hash is stored.
The queues (the stack's outputs): --command-dlq-url ($COMMAND_DLQ_URL), --command-queue-url ($COMMAND_QUEUE_URL),
--stream-failure-url ($STREAM_FAILURE_QUEUE_URL), --sqs-endpoint-url ($SQS_ENDPOINT_URL, e.g. a local one).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import sys
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

__all__ = ["main"]

DEFAULT_TABLE = "tags-local"
_TARGET_VARIABLES = ("TABLE_NAME", "DYNAMODB_ENDPOINT_URL", "AWS_REGION", "CURSOR_SECRET")


@contextlib.contextmanager
def target(table: str, endpoint_url: str | None, region: str) -> Iterator[None]:
    """Point tags_core at a table for the duration of the block, then put the environment back."""
    from tags_core.store import client as db  # noqa: PLC0415

    saved = {name: os.environ.get(name) for name in _TARGET_VARIABLES}
    os.environ["TABLE_NAME"] = table
    os.environ["AWS_REGION"] = region
    if endpoint_url:
        os.environ["DYNAMODB_ENDPOINT_URL"] = endpoint_url
    else:
        os.environ.pop("DYNAMODB_ENDPOINT_URL", None)
    if len(os.environ.get("CURSOR_SECRET", "")) < 16:
        os.environ["CURSOR_SECRET"] = secrets.token_urlsafe(32)  # the settings demand one; the CLI signs nothing
    db.reset()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        db.reset()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tags-admin", description="Manage tenants and API keys of the Tags API.")
    parser.add_argument("--table", default=os.environ.get("TABLE_NAME") or DEFAULT_TABLE,
                        help="DynamoDB table (default $TABLE_NAME, else tags-local)")
    parser.add_argument("--endpoint-url", default=os.environ.get("DYNAMODB_ENDPOINT_URL") or None,
                        help="DynamoDB endpoint, e.g. a local one (default $DYNAMODB_ENDPOINT_URL, else AWS)")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
                        or "us-east-1", help="AWS region (default $AWS_REGION, else us-east-1)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    tenant = commands.add_parser("create-tenant", help="create a tenant; prints its id")
    tenant.add_argument("name", help="display name")
    tenant.add_argument("--id", dest="tenant_id", help="tenant id (2-63 of a-z 0-9 -); default: from the name")

    key = commands.add_parser("create-key", help="issue an API key; prints it once")
    key.add_argument("tenant")
    key.add_argument("--role", required=True, choices=["read", "write"])
    key.add_argument("--label", default="", help="what the key is for")

    listing = commands.add_parser("list-keys", help="a tenant's keys (never the keys themselves)")
    listing.add_argument("tenant")

    revoke = commands.add_parser("revoke-key", help="revoke a key (refused from then on)")
    revoke.add_argument("tenant")
    revoke.add_argument("key_id")

    dlq = commands.add_parser("dlq", help="dead-letter queues: list, show, redrive")
    for option, variable in (("--command-dlq-url", "COMMAND_DLQ_URL"), ("--command-queue-url", "COMMAND_QUEUE_URL"),
                             ("--stream-failure-url", "STREAM_FAILURE_QUEUE_URL"),
                             ("--sqs-endpoint-url", "SQS_ENDPOINT_URL")):
        dlq.add_argument(option, default=os.environ.get(variable) or None, help=f"default ${variable}")
    dlq.add_argument("action", choices=["list", "show", "redrive"])
    dlq.add_argument("queue", choices=["commands", "stream"])
    dlq.add_argument("message_id", nargs="?")
    dlq.add_argument("--all", action="store_true", help="redrive every message")
    dlq.add_argument("--limit", type=int, default=100, help="at most this many messages (list, --all)")
    return parser


def _table(rows: Sequence[Sequence[str]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() + "\n")


def _dlq(args: argparse.Namespace, out: TextIO) -> None:
    import boto3  # noqa: PLC0415

    from tags_tools.queues import QueueTool  # noqa: PLC0415

    urls = {"commands": args.command_dlq_url, "stream": args.stream_failure_url,
            "command-queue": args.command_queue_url}
    needed = ["commands", "command-queue"] if args.queue == "commands" and args.action == "redrive" else [args.queue]
    missing = [name for name in needed if not urls[name]]
    if missing:
        raise SystemExit(f"tags-admin: the URL of {', '.join(missing)} is needed (see tags-admin dlq --help)")
    sqs = boto3.client("sqs", region_name=args.region, endpoint_url=args.sqs_endpoint_url)
    streams = boto3.client("dynamodbstreams", region_name=args.region, endpoint_url=args.endpoint_url)
    tool = QueueTool(sqs, {k: v for k, v in urls.items() if v}, streams)
    if args.action == "list":
        rows: list[dict[str, Any]] = [
            {"message_id": m.message_id, "receive_count": m.receive_count, "sent_at": m.sent_at,
             "summary": m.summary(args.queue)} for m in tool.messages(args.queue, args.limit)]
        if args.json:
            out.write(json.dumps(rows) + "\n")
        elif not rows:
            out.write(f"no messages in the {args.queue} dead-letter queue\n")
        else:
            _table([("MESSAGE ID", "RECEIVED", "SUMMARY"),
                    *[(str(r["message_id"]), str(r["receive_count"]), str(r["summary"])) for r in rows]], out)
        return
    if args.action == "redrive" and args.all:
        chosen = list(tool.messages(args.queue, args.limit))
    else:
        found = tool.find(args.queue, args.message_id or "") if args.message_id else None
        if found is None:
            raise SystemExit(f"tags-admin: no message {args.message_id!r} in the {args.queue} dead-letter queue")
        chosen = [found]
    for message in chosen:
        if args.action == "show":
            shown = {"message_id": message.message_id, "receive_count": message.receive_count,
                     "sent_at": message.sent_at, "attributes": message.attributes, "body": message.body,
                     "why": tool.why(args.queue, message)}
            out.write(json.dumps(shown, indent=None if args.json else 2) + "\n")
        else:
            out.write(json.dumps(tool.redrive(args.queue, message)) + "\n")


def _run(args: argparse.Namespace, out: TextIO) -> None:
    from tags_core.domain import accounts as auth  # noqa: PLC0415

    if args.command == "dlq":
        _dlq(args, out)
    elif args.command == "create-tenant":
        tenant_id = auth.create_tenant(args.name, tenant_id=args.tenant_id)
        out.write(json.dumps({"tenant_id": tenant_id, "name": args.name}) + "\n" if args.json else f"{tenant_id}\n")
    elif args.command == "create-key":
        key_id, key = auth.create_api_key(args.tenant, args.role, args.label)
        if args.json:
            out.write(json.dumps({"tenant_id": args.tenant, "key_id": key_id, "role": args.role, "key": key}) + "\n")
        else:
            out.write(f"key_id: {key_id}\nrole:   {args.role}\nkey:    {key}\n"
                      "Store the key now: it is not stored and will not be shown again.\n")
    elif args.command == "list-keys":
        keys: list[dict[str, Any]] = sorted(auth.list_api_keys(args.tenant), key=lambda k: str(k.get("created_at")))
        public = [{"key_id": k.get("key_id"), "role": k.get("role"), "label": k.get("label") or "",
                   "created_at": k.get("created_at"), "revoked_at": k.get("revoked_at")} for k in keys]
        if args.json:
            out.write(json.dumps(public) + "\n")
        elif not public:
            out.write(f"no keys for tenant {args.tenant}\n")
        else:
            _table([("KEY ID", "ROLE", "LABEL", "CREATED", "REVOKED"),
                    *[(str(k["key_id"]), str(k["role"]), str(k["label"]), str(k["created_at"] or ""),
                       str(k["revoked_at"] or "-")) for k in public]], out)
    elif args.command == "revoke-key":
        auth.revoke_api_key(args.tenant, args.key_id)
        out.write(json.dumps({"key_id": args.key_id, "revoked": True}) + "\n" if args.json
                  else f"revoked {args.key_id}\n")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    from tags_core.errors import DomainError  # noqa: PLC0415

    try:
        with target(args.table, args.endpoint_url, args.region):
            _run(args, sys.stdout)
    except DomainError as exc:
        print(f"tags-admin: {exc.message}", file=sys.stderr)
        return 1
    except ClientError as exc:
        error = exc.response.get("Error", {})
        print(f"tags-admin: DynamoDB refused: {error.get('Code')}: {error.get('Message')}", file=sys.stderr)
        return 1
    except BotoCoreError as exc:
        print(f"tags-admin: cannot reach DynamoDB: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
