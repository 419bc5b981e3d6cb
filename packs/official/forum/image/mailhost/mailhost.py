"""mailhost: the forum's outgoing mail provider, a transactional email service in miniature.

SMTP relay on ports 25 and 587 (aiosmtpd): every message needs an SMTP login of a domain the
provider has verified (AUTH PLAIN or LOGIN; no TLS on this private network), and its sender
must belong to that domain. Each accepted message is appended to the domain's mbox under
/var/spool/mailhost/<domain>/ and recorded as an event. A failed login is answered after
MAILHOST_AUTH_FAIL_DELAY seconds, as providers slow down password guessing.

An HTTP API on port 80, in the manner of the big providers' (Basic auth, user "api", the
account's API key): GET / documents it.

State, all plain files under MAILHOST_DATA (/var/lib/mailhost):
  credentials  one SMTP login a line: login|sha256|state|created|changed|revoked sha256s|note
  api_keys     key|domain
  events.log   one JSON object a line (delivered, failed, rejected, credential changes)
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import hashlib
import json
import os
import sys
import threading
import time
import uuid
from email.parser import BytesHeaderParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

DATA = Path(os.environ.get("MAILHOST_DATA", "/var/lib/mailhost"))
SPOOL = Path(os.environ.get("MAILHOST_SPOOL", "/var/spool/mailhost"))
HOSTNAME = os.environ.get("MAILHOST_HOSTNAME", "smtp.mailhost.example")
AUTH_FAIL_DELAY = float(os.environ.get("MAILHOST_AUTH_FAIL_DELAY", "2"))
CREDENTIALS = DATA / "credentials"
API_KEYS = DATA / "api_keys"
EVENTS = DATA / "events.log"
LOCK = DATA / ".lock"
FIELDS = ("login", "hash", "state", "created", "changed", "revoked", "note")


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def password_hash(login: str, password: str) -> str:
    return hashlib.sha256(f"{login}:{password}".encode()).hexdigest()


def say(line: str) -> None:
    print(f"{now_iso()} mailhost: {line}", flush=True)


# -- state ----------------------------------------------------------------------------------


@contextlib.contextmanager
def locked():
    """One writer at a time across the server's threads and mailhost-admin."""
    DATA.mkdir(parents=True, exist_ok=True)
    with open(LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_credentials() -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    with contextlib.suppress(FileNotFoundError):
        for line in CREDENTIALS.read_text().splitlines():
            if line and not line.startswith("#"):
                parts = (line.split("|") + [""] * len(FIELDS))[: len(FIELDS)]
                found[parts[0]] = dict(zip(FIELDS, parts))
    return found


def write_credentials(creds: dict[str, dict[str, str]]) -> None:
    text = "".join("|".join(c[f].replace("|", "/") for f in FIELDS) + "\n" for c in creds.values())
    temp = CREDENTIALS.with_suffix(".new")
    temp.write_text(text)
    temp.replace(CREDENTIALS)


def domain_of(address: str) -> str:
    return address.rsplit("@", 1)[-1].lower() if "@" in address else ""


def record(event: str, **fields: object) -> None:
    line = json.dumps({"time": now_iso(), "event": event, **fields}, separators=(",", ":"))
    with open(EVENTS, "a") as handle:  # O_APPEND: whole lines from every writer
        handle.write(line + "\n")


def set_password(login: str, password: str, *, create: bool = False, note: str = "") -> str:
    """Sets (or creates) an SMTP login's password. Returns "" or why it was refused."""
    if not 5 <= len(password) <= 32:
        return "password must be 5 to 32 characters"
    with locked():
        creds = read_credentials()
        entry = creds.get(login)
        if create:
            if entry is not None:
                return f"credential {login} already exists"
            entry = {f: "" for f in FIELDS} | {"login": login, "created": now_iso()}
            creds[login] = entry
        elif entry is None:
            return f"no credential {login}"
        new_hash = password_hash(login, password)
        if new_hash in entry["revoked"].split(","):
            return "this password was revoked and cannot be used again"
        entry.update(hash=new_hash, state="active", changed=now_iso(), note=note)
        write_credentials(creds)
    record("credential_created" if create else "credential_changed", login=login, domain=domain_of(login))
    return ""


def revoke(login: str, reason: str, at: str | None = None) -> str:
    with locked():
        creds = read_credentials()
        entry = creds.get(login)
        if entry is None:
            return f"no credential {login}"
        revoked = [h for h in entry["revoked"].split(",") if h]
        if entry["hash"] and entry["hash"] not in revoked:
            revoked.append(entry["hash"])
        entry.update(state="revoked", changed=at or now_iso(), revoked=",".join(revoked), note=reason)
        write_credentials(creds)
    record("credential_revoked", login=login, domain=domain_of(login), reason=reason, at=at or now_iso())
    return ""


def check_login(login: str, password: str) -> str:
    """"" when the login may send, else why not (for the provider's event log only)."""
    entry = read_credentials().get(login)
    if entry is None:
        return "unknown login"
    if entry["state"] != "active":
        return f"credential {entry['state']} {entry['changed']}: {entry['note']}"
    if password_hash(login, password) != entry["hash"]:
        return "wrong password"
    return ""


def login_active(login: str) -> bool:
    entry = read_credentials().get(login)
    return entry is not None and entry["state"] == "active"


def api_key_domains(key: str) -> set[str]:
    domains: set[str] = set()
    with contextlib.suppress(FileNotFoundError):
        for line in API_KEYS.read_text().splitlines():
            k, _, domain = line.partition("|")
            if k and k == key:
                domains.add(domain)
    return domains


# -- SMTP -------------------------------------------------------------------------------------


def session_login(session) -> str:
    data = session.auth_data
    login = getattr(data, "login", None) if session.authenticated else None
    return login.decode(errors="replace") if isinstance(login, bytes) else ""


def smtp_server_class():
    from aiosmtpd.smtp import SMTP

    class ProviderSMTP(SMTP):
        async def push(self, status):
            text = status.decode() if isinstance(status, bytes) else status
            if text.startswith("535"):
                await asyncio.sleep(AUTH_FAIL_DELAY)  # slow down whoever guesses passwords
            await super().push(status)

    return ProviderSMTP


class Relay:
    """aiosmtpd handler: the relay's policy and its delivery to the spool."""

    def __init__(self) -> None:
        self.delivered = 0
        self.failed_logins = 0

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        login = auth_data.login.decode(errors="replace")
        password = auth_data.password.decode(errors="replace")
        why = check_login(login, password)
        if not why:
            return AuthResult(success=True, auth_data=auth_data)
        self.failed_logins += 1
        peer = session.peer[0] if session.peer else "?"
        record("failed", login=login, peer=peer, reason=f"authentication failed: {why}")
        say(f"authentication failed for {login} from {peer}: 535 5.7.8")
        return AuthResult(success=False, handled=False)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        login = session_login(session)
        if not login_active(login):
            # Revoked while this session was open: the client must log in again.
            asyncio.get_running_loop().call_later(0.05, server.transport.close)
            return "421 4.7.0 Credentials are no longer valid; closing connection"
        if domain_of(address) != domain_of(login):
            record("rejected", login=login, sender=address, reason="sender domain not verified for this login")
            return f"550 5.7.1 Sender domain {domain_of(address) or '(none)'} is not verified for {login}"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        login = session_login(session)
        queue_id = uuid.uuid4().hex[:12].upper()
        headers = BytesHeaderParser().parsebytes(envelope.content)
        message_id = (headers.get("Message-ID") or "").strip().strip("<>")
        domain = domain_of(login)
        box = SPOOL / domain
        box.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime())
        with open(box / f"{time.strftime('%Y-%m-%d', time.gmtime())}.mbox", "ab") as mbox:
            body = envelope.content.replace(b"\r\n", b"\n").replace(b"\nFrom ", b"\n>From ")
            mbox.write(f"From {envelope.mail_from} {stamp}\n".encode() + body + b"\n\n")
        record("delivered", login=login, queue_id=queue_id, message_id=message_id,
               sender=envelope.mail_from, recipients=envelope.rcpt_tos, size=len(envelope.content))
        self.delivered += 1
        return f"250 2.0.0 Ok: queued as {queue_id}"


# -- HTTP API -----------------------------------------------------------------------------------

API_DOC = """mailhost API (v3)

Authenticate with HTTP Basic auth: user "api", password your API key.

  GET  /v3/domains                                  your sending domains
  GET  /v3/domains/DOMAIN/credentials               SMTP logins of DOMAIN, their state and notes
  POST /v3/domains/DOMAIN/credentials               new SMTP login   (form: login=, password=)
  PUT  /v3/domains/DOMAIN/credentials/LOGIN         new password     (form: password=)
  GET  /v3/DOMAIN/events?event=TYPE&limit=N         recent events, newest first
                                                    (TYPE: delivered, failed, rejected, ...)

SMTP: smtp.mailhost.example (this host), ports 25 and 587, AUTH PLAIN or LOGIN with an SMTP
login of your domain; the sender address must be of that domain.

Example:
  curl -s --user "api:$MAILHOST_API_KEY" http://mail/v3/domains/forum.example/credentials
"""


def recent_events(domain: str, kind: str | None, limit: int) -> list[dict]:
    try:
        with open(EVENTS, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 2_000_000))
            lines = handle.read().decode(errors="replace").splitlines()
    except FileNotFoundError:
        return []
    found: list[dict] = []
    for line in reversed(lines):
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            if domain_of(str(event.get("login", ""))) != domain and event.get("domain") != domain:
                continue
            if kind and event.get("event") != kind:
                continue
            found.append(event)
            if len(found) >= limit:
                break
    return found


class Api(BaseHTTPRequestHandler):
    server_version = "mailhost-api/3"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        say(f"api {self.address_string()} {format % args}")

    def reply(self, status: int, data: object) -> None:
        body = (data if isinstance(data, str) else json.dumps(data, indent=2) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if isinstance(data, str) else "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def domains(self) -> set[str]:
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            with contextlib.suppress(ValueError):
                user, _, key = base64.b64decode(auth[6:]).decode().partition(":")
                if user == "api":
                    return api_key_domains(key)
        return set()

    def form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode(errors="replace") if length else ""
        if self.headers.get("Content-Type", "").startswith("application/json"):
            with contextlib.suppress(ValueError):
                return {k: str(v) for k, v in json.loads(raw).items()}
        return {k: v[0] for k, v in parse_qs(raw).items()}

    def route(self, method: str) -> None:
        url = urlparse(self.path)
        parts = [unquote(p) for p in url.path.strip("/").split("/") if p]
        if method == "GET" and not parts:
            return self.reply(200, API_DOC)
        domains = self.domains()
        if not domains:
            return self.reply(401, {"message": "Invalid private key"})
        if parts[:2] == ["v3", "domains"] and len(parts) == 2 and method == "GET":
            return self.reply(200, {"items": [{"name": d, "state": "active"} for d in sorted(domains)]})
        if len(parts) >= 4 and parts[:2] == ["v3", "domains"] and parts[3] == "credentials":
            domain = parts[2]
            if domain not in domains:
                return self.reply(404, {"message": "Domain not found"})
            return self.credentials(method, domain, parts[4] if len(parts) > 4 else None)
        if len(parts) == 3 and parts[0] == "v3" and parts[2] == "events" and method == "GET":
            if parts[1] not in domains:
                return self.reply(404, {"message": "Domain not found"})
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            limit = min(300, int(query.get("limit", "25")) if query.get("limit", "25").isdigit() else 25)
            return self.reply(200, {"items": recent_events(parts[1], query.get("event"), limit)})
        return self.reply(404, {"message": "Not found"})

    def credentials(self, method: str, domain: str, login: str | None) -> None:
        if method == "GET" and login is None:
            items = [
                {"login": c["login"], "state": c["state"], "created_at": c["created"],
                 "changed_at": c["changed"], "note": c["note"]}
                for c in read_credentials().values() if domain_of(c["login"]) == domain
            ]
            return self.reply(200, {"total_count": len(items), "items": items})
        form = self.form()
        if method == "POST" and login is None:
            login = form.get("login", "")
            if "@" not in login:
                login = f"{login}@{domain}"
            if domain_of(login) != domain:
                return self.reply(400, {"message": f"login must be of {domain}"})
            why = set_password(login, form.get("password", ""), create=True)
            return self.reply(400 if why else 200, {"message": why or "Created 1 credentials pair(s)"})
        if method == "PUT" and login is not None:
            if "@" not in login:
                login = f"{login}@{domain}"
            if domain_of(login) != domain:
                return self.reply(404, {"message": "Credential not found"})
            why = set_password(login, form.get("password", ""))
            return self.reply(400 if why else 200, {"message": why or "Password changed"})
        return self.reply(405, {"message": "Method not allowed"})

    def do_GET(self) -> None:
        self.route("GET")

    def do_POST(self) -> None:
        self.route("POST")

    def do_PUT(self) -> None:
        self.route("PUT")


# -- the service --------------------------------------------------------------------------------


async def serve() -> None:
    relay = Relay()
    smtp_class = smtp_server_class()
    loop = asyncio.get_running_loop()
    ports = [int(p) for p in os.environ.get("MAILHOST_SMTP_PORTS", "25 587").split()]
    for port in ports:
        await loop.create_server(
            lambda: smtp_class(relay, hostname=HOSTNAME, ident="mailhost ESMTP", authenticator=relay.authenticate,
                               auth_required=True, auth_require_tls=False, data_size_limit=25 * 1024 * 1024),
            host="0.0.0.0", port=port,
        )
    api = ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("MAILHOST_API_PORT", "80"))), Api)
    api.daemon_threads = True
    threading.Thread(target=api.serve_forever, daemon=True).start()
    say(f"SMTP relay on ports {' '.join(map(str, ports))}, API on port {api.server_address[1]}")
    while True:  # a line a minute: what went through
        before = (relay.delivered, relay.failed_logins)
        await asyncio.sleep(60)
        delivered, failed = relay.delivered - before[0], relay.failed_logins - before[1]
        if delivered or failed:
            say(f"last minute: {delivered} messages accepted, {failed} failed logins")


def admin(argv: list[str]) -> int:
    """mailhost-admin: the provider's own tool (list, set-password, create, revoke)."""
    usage = ("usage: mailhost-admin list | set-password LOGIN PASSWORD | create LOGIN PASSWORD"
             " | revoke LOGIN REASON [AT] | add-api-key KEY DOMAIN")
    if not argv:
        print(usage, file=sys.stderr)
        return 2
    command, args = argv[0], argv[1:]
    why = ""
    if command == "list" and not args:
        for c in read_credentials().values():
            print(f"{c['login']}\t{c['state']}\tchanged {c['changed']}\t{c['note']}")
    elif command == "set-password" and len(args) == 2:
        why = set_password(args[0], args[1])
    elif command == "create" and len(args) == 2:
        why = set_password(args[0], args[1], create=True)
    elif command == "revoke" and len(args) in (2, 3):
        why = revoke(args[0], args[1], args[2] if len(args) == 3 else None)
    elif command == "add-api-key" and len(args) == 2:
        with locked(), open(API_KEYS, "a") as handle:
            handle.write(f"{args[0]}|{args[1]}\n")
    else:
        print(usage, file=sys.stderr)
        return 2
    if why:
        print(f"mailhost-admin: {why}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "admin":
        sys.exit(admin(sys.argv[2:]))
    SPOOL.mkdir(parents=True, exist_ok=True)
    asyncio.run(serve())
