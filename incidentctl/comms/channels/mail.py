"""`email`: plain-text mail over SMTP (smtplib), STARTTLS by default.

```toml
[channels.ops-mail]
type = "email"
host = "smtp.example.com"
port = 587                          # default: 587, or 465 with tls = true
starttls = true                     # default; tls = true for SMTPS (port 465) instead
username_env = "SMTP_USER"          # or username = "incidentctl@example.com"
password_env = "SMTP_PASSWORD"      # or password_file
from = "incidents@example.com"
from_name = "incidentctl"           # optional
to = ["oncall@example.com"]         # when the message names no recipients
ca_file = "/etc/ssl/corp.pem"       # optional: a private CA
```

Recipients are the message's (the notification matrix's addresses), else `to`. The
subject is `[SEV-1] INC-… resolved: <title>`, one line: every header is built from
cleaned text (no CR/LF can add a header) by `email.message.EmailMessage`, which also
refuses one. A password is never sent without TLS, except to a loopback host.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import socket
import ssl
import threading
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import formataddr, formatdate, make_msgid

from . import text as t
from .config import LOOPBACK, Table
from .model import Channel, Delivery, Message, Secret
from .transport import context

ADDRESS = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
_HOST = re.compile(r"[A-Za-z0-9.:-]{1,253}")


class _Stop(Exception):
    def __init__(self, reason: str, *, retry: bool, code: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.retry, self.code = reason, retry, code


class SmtpEmail(Channel):
    """Sends one plain-text email per message over SMTP."""

    type = "email"

    def __init__(
        self,
        name: str,
        *,
        host: str,
        sender: str,
        port: int | None = None,
        starttls: bool = True,
        tls: bool = False,
        username: str | Secret | None = None,
        password: Secret | None = None,
        sender_name: str | None = None,
        to: tuple[str, ...] = (),
        ca_file: str | None = None,
    ) -> None:
        secrets = [s for s in (password, username) if isinstance(s, Secret)]
        super().__init__(name, secrets)
        self.host, self.sender, self.sender_name = host, sender, sender_name
        self.tls, self.starttls = tls, starttls and not tls
        self.port = port or (465 if tls else 587 if starttls else 25)
        self._username, self._password = username, password
        self.to = to
        self._ctx = context(ca_file)

    @classmethod
    def from_table(cls, table: Table) -> SmtpEmail:
        host = table.text("host", required=True, limit=253)
        assert host is not None
        if not _HOST.fullmatch(host):
            raise table.error("host must be a host name or an IP address")
        port = table.number("port", 0, 1, 65535) or None
        starttls, tls = table.flag("starttls", True), table.flag("tls", False)
        username: str | Secret | None = table.text("username", limit=254)
        env_user = table.secret("username", required=False) if username is None else None
        username = username or env_user
        password = table.secret("password", required=False)
        if bool(username) != bool(password):
            raise table.error("set both a username (username or username_env) and a password")
        if password and not (tls or starttls) and host not in LOOPBACK:
            raise table.error("a password is only sent over TLS; set starttls = true or tls = true")
        sender = table.text("from", required=True, limit=254)
        assert sender is not None
        if not ADDRESS.fullmatch(sender):
            raise table.error("from must be an email address (name@example.com)")
        to = table.strings("to")
        if bad := [a for a in to if not ADDRESS.fullmatch(a)]:
            raise table.error(f"to: {t.clip(bad[0], 80)!r} is not an email address")
        kwargs = {
            "sender_name": table.text("from_name", limit=100),
            "ca_file": table.path("ca_file"),
        }
        table.finish()
        return cls(
            table.name,
            host=host,
            sender=sender,
            port=port,
            starttls=starttls,
            tls=tls,
            username=username,
            password=password,
            to=to,
            **kwargs,
        )

    # -- the mail ---------------------------------------------------------------------

    def recipients(self, message: Message) -> tuple[list[str], list[str]]:
        """(valid addresses, refused ones) from the message, else from `to`."""
        given = message.recipients or self.to
        good: list[str] = []
        bad: list[str] = []
        for address in given:
            (good if ADDRESS.fullmatch(address.strip()) else bad).append(address.strip())
        return list(dict.fromkeys(good)), bad

    def mail(self, message: Message, recipients: list[str]) -> EmailMessage:
        # 7-bit transfer encodings: a server without 8BITMIME still takes the body whole.
        mail = EmailMessage(policy=default_policy.clone(cte_type="7bit"))
        mail["Subject"] = t.clip(t.subject(message), 200)
        mail["From"] = formataddr((t.clean(self.sender_name or ""), self.sender))
        mail["To"] = ", ".join(recipients)
        mail["Date"] = formatdate(usegmt=True)
        mail["Message-ID"] = make_msgid("incidentctl", domain=self.sender.rsplit("@", 1)[1])
        thread = re.sub(r"[^A-Za-z0-9._-]", "", message.incident_id)[:100] or "incident"
        mail["References"] = f"<{thread}@incidentctl.invalid>"
        mail["Auto-Submitted"] = "auto-generated"
        mail["X-Auto-Response-Suppress"] = "All"
        mail["X-Incidentctl-Incident"] = thread
        mail.set_content(self.body(message))
        return mail

    def body(self, message: Message) -> str:
        lines = [t.heading(message), ""]
        fields = t.fields(message, limit=50)
        lines += [f"{name}: {value}" for name, value in fields]
        if text := t.clip(t.clean(message.text, lines=True), 50_000):
            lines += ["", text]
        link = t.safe_link(message.url)
        if link and all(value != link for _, value in fields):
            lines += ["", f"Incident: {link}"]
        lines += ["", "--", f"Sent by incidentctl (channel {self.name})."]
        return "\n".join(lines) + "\n"

    def _how(self) -> str:
        security = "TLS" if self.tls else "STARTTLS" if self.starttls else "no TLS"
        user = self._username
        auth = (
            f", AUTH as {user if isinstance(user, str) else '***'} (password ***)" if user else ""
        )
        return f"SMTP {self.host}:{self.port}, {security}{auth}"

    def preview(self, message: Message) -> str:
        good, _ = self.recipients(message)
        envelope = [f"MAIL FROM:<{self.sender}>"] + [f"RCPT TO:<{a}>" for a in good]
        text = "\n".join([self._how(), *envelope, "", self.mail(message, good).as_string()])
        return self._safe_preview(text)

    # -- sending ----------------------------------------------------------------------

    def send(self, message: Message, *, timeout: float = 10.0) -> Delivery:
        good, bad = self.recipients(message)
        if not good:
            why = "no valid recipient" if bad else "no recipients; set to, or give the message some"
            return self._failed(why, retry=False)
        sockets: list[socket.socket] = []
        timer = threading.Timer(timeout, _shut_all, (sockets,))
        timer.daemon = True
        timer.start()
        try:
            refused = self._exchange(self.mail(message, good), good, timeout, sockets)
        except _Stop as stop:
            return self._failed(stop.reason, retry=stop.retry, status=stop.code)
        except (OSError, smtplib.SMTPException) as exc:
            expired = timer.finished.is_set()
            failure = _stop(exc, f"{self.host}:{self.port}", timeout, expired)
            return self._failed(failure.reason, retry=failure.retry, status=failure.code)
        finally:
            timer.cancel()
        sent = len(good) - len(refused)
        detail = f"sent to {sent} of {len(good) + len(bad)} recipients"
        if refused or bad:
            named = [f"{a} ({code})" for a, (code, _) in refused.items()] + [
                t.clip(b, 60) for b in bad
            ]
            detail += "; refused: " + ", ".join(named[:5])
        return self._done(detail, status=250)

    def _exchange(
        self, mail: EmailMessage, to: list[str], timeout: float, sockets: list[socket.socket]
    ) -> dict[str, tuple[int, bytes]]:
        # The host is given to the constructor (which connects): STARTTLS checks the
        # certificate against it.
        smtp: smtplib.SMTP
        if self.tls:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=timeout, context=self._ctx)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=timeout)
        with smtp:
            _watch(sockets, smtp)
            smtp.ehlo()
            if self.starttls:
                if not smtp.has_extn("starttls"):
                    raise _Stop(
                        f"{self.host}:{self.port} does not offer STARTTLS; "
                        "use its TLS port (tls = true) or fix the server",
                        retry=False,
                    )
                smtp.starttls(context=self._ctx)
                _watch(sockets, smtp)
                smtp.ehlo()
            if self._username and self._password:
                user = self._username
                smtp.login(
                    user.reveal() if isinstance(user, Secret) else user, self._password.reveal()
                )
            refused = smtp.send_message(mail, from_addr=self.sender, to_addrs=to)
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()
        return refused


def _watch(sockets: list[socket.socket], smtp: smtplib.SMTP) -> None:
    if smtp.sock is not None:
        sockets.append(smtp.sock)


def _shut_all(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _said(exc: smtplib.SMTPResponseException) -> str:
    raw = exc.smtp_error
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return t.clip(t.clean(text), 100)


def _stop(exc: BaseException, where: str, timeout: float, expired: bool) -> _Stop:
    """What an smtplib or socket error means, and whether to try again."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        retry = all(400 <= code < 500 for code in codes)
        named = ", ".join(f"{a} ({c})" for a, (c, _) in list(exc.recipients.items())[:5])
        return _Stop(f"the server refused every recipient: {named}", retry=retry)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        if 400 <= exc.smtp_code < 500:
            return _Stop(f"authentication failed for now ({exc.smtp_code})", retry=True)
        return _Stop(
            f"the server refused the username or password ({exc.smtp_code} {_said(exc)}); "
            "check username_env and password_env/password_file",
            retry=False,
            code=exc.smtp_code,
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return _Stop(f"{where} does not support AUTH here; check starttls/tls", retry=False)
    if isinstance(exc, smtplib.SMTPSenderRefused):
        retry = 400 <= exc.smtp_code < 500
        return _Stop(
            f"the server refused the sender ({exc.smtp_code} {_said(exc)}); check from",
            retry=retry,
            code=exc.smtp_code,
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        retry = 400 <= exc.smtp_code < 500 or exc.smtp_code == -1
        return _Stop(
            f"the server answered {exc.smtp_code} {_said(exc)}", retry=retry, code=exc.smtp_code
        )
    if expired or isinstance(exc, (TimeoutError, socket.timeout)):
        return _Stop(f"no complete exchange with {where} within {timeout:g} s", retry=True)
    if isinstance(exc, ssl.SSLCertVerificationError):
        why = exc.verify_message or "not trusted"
        return _Stop(
            f"the TLS certificate of {where} is not accepted ({why}); set ca_file for a private CA",
            retry=False,
        )
    if isinstance(exc, ConnectionRefusedError):
        return _Stop(f"{where} refused the connection", retry=True)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return _Stop(f"{where} closed the connection", retry=True)
    if isinstance(exc, OSError):
        return _Stop(f"cannot reach {where} ({exc.strerror or type(exc).__name__})", retry=True)
    return _Stop(f"SMTP with {where} failed ({type(exc).__name__})", retry=True)
