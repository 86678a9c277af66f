#!/usr/bin/python3
"""A real SMTP server for the tests: aiosmtpd with STARTTLS (required) and AUTH (required),
keeping every accepted message in a Maildir. A recipient whose address starts with
"rejected" is refused with a permanent 550. With --data-delay S it waits S seconds after
the message's data before keeping it and answering (a slow relay).

    smtp_server.py --port P --mbox MAILDIR --cert CERT --key KEY --user U --password PW
                   [--data-delay S]
"""
import argparse
import asyncio
import signal
import ssl

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword

parser = argparse.ArgumentParser()
for name in ("--port", "--mbox", "--cert", "--key", "--user", "--password"):
    parser.add_argument(name, required=True)
parser.add_argument("--data-delay", type=float, default=0)
args = parser.parse_args()


class Handler(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("rejected"):
            return "550 5.1.1 <%s>: no such user here" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if args.data_delay:
            await asyncio.sleep(args.data_delay)
        return await super().handle_DATA(server, session, envelope)


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login.decode() == args.user
        and auth_data.password.decode() == args.password
    )
    return AuthResult(success=ok, handled=False)


tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
tls.load_cert_chain(args.cert, args.key)
controller = Controller(
    Handler(args.mbox),
    hostname="127.0.0.1",
    port=int(args.port),
    tls_context=tls,
    require_starttls=True,
    authenticator=authenticator,
    auth_required=True,
    auth_require_tls=True,
)
controller.start()
print("ready", flush=True)
signal.sigwait({signal.SIGTERM, signal.SIGINT})
controller.stop()
