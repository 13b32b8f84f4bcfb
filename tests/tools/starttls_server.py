#!/usr/bin/env python3
"""A fixture mail server for the probe tests: speaks just enough SMTP,
IMAP or POP3 to upgrade with STARTTLS, then does the TLS handshake with
python's ssl module and the given certificate chain, and closes.

    starttls_server.py CHAIN KEY PROTO MODE [PORTFILE]

PROTO: smtp | imap | pop3. MODE: ok | nostarttls (SMTP: EHLO lacks
STARTTLS) | refuse (the STARTTLS command gets an error) | greetrefuse
(the greeting refuses: 554, * BYE, -ERR) | inject (bytes follow the
go-ahead, as in a STARTTLS injection). Listens on 127.0.0.1 on a free
port, writes the port to PORTFILE (or stdout), serves until killed.
Every line it reads is capped; a client that says something unexpected
is answered with an error and dropped.
"""
import socket
import socketserver
import ssl
import sys

MAX_LINE = 1024

chain, key, proto, mode = sys.argv[1:5]
portfile = sys.argv[5] if len(sys.argv) > 5 else None
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(chain, key)


class Handler(socketserver.StreamRequestHandler):
    timeout = 10

    def send(self, s):
        self.wfile.write(s.encode())
        self.wfile.flush()

    def line(self):
        return self.rfile.readline(MAX_LINE).decode("latin-1").rstrip("\r\n")

    def smtp(self):
        if mode == "greetrefuse":
            self.send("554 5.3.2 no service for you\r\n")
            return False
        self.send("220-fixture.example ESMTP\r\n220 fixture ready\r\n")
        cmd = self.line()
        if not cmd.upper().startswith("EHLO "):
            self.send("503 EHLO first\r\n")
            return False
        caps = ["fixture.example", "PIPELINING", "SIZE 1000000"]
        if mode != "nostarttls":
            caps.append("STARTTLS")
        caps.append("8BITMIME")
        self.send("".join("250-%s\r\n" % c for c in caps[:-1]) +
                  "250 %s\r\n" % caps[-1])
        cmd = self.line()
        if cmd.upper() != "STARTTLS" or mode in ("refuse", "nostarttls"):
            self.send("454 4.7.0 TLS not available\r\n")
            return False
        self.send("220 2.0.0 Ready to start TLS\r\n" +
                  ("250 injected\r\n" if mode == "inject" else ""))
        return True

    def imap(self):
        if mode == "greetrefuse":
            self.send("* BYE too busy\r\n")
            return False
        self.send("* OK [CAPABILITY IMAP4rev1 STARTTLS] fixture ready\r\n")
        tag, _, cmd = self.line().partition(" ")
        if cmd.upper() != "STARTTLS" or mode == "refuse":
            self.send("%s NO not now\r\n" % tag)
            return False
        self.send("* CAPABILITY IMAP4rev1\r\n%s OK Begin TLS now\r\n" % tag +
                  ("* injected\r\n" if mode == "inject" else ""))
        return True

    def pop3(self):
        if mode == "greetrefuse":
            self.send("-ERR go away\r\n")
            return False
        self.send("+OK fixture POP3 ready\r\n")
        if self.line().upper() != "STLS" or mode == "refuse":
            self.send("-ERR no TLS\r\n")
            return False
        self.send("+OK Begin TLS\r\n" +
                  ("+OK injected\r\n" if mode == "inject" else ""))
        return True

    def handle(self):
        try:
            if not getattr(self, proto)():
                return
            tls = ctx.wrap_socket(self.connection, server_side=True)
            try:
                tls.recv(1)  # until the client closes
            except (ssl.SSLError, OSError):
                pass
            tls.close()
        except (OSError, ssl.SSLError, socket.timeout):
            pass


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


srv = Server(("127.0.0.1", 0), Handler)
port = srv.server_address[1]
if portfile:
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % port)
    import os
    os.rename(portfile + ".tmp", portfile)
else:
    print(port, flush=True)
srv.serve_forever()
