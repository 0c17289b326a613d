#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Pipeline many calls of org.sriovd1.Manager.Allocate on a few system-bus connections (no
client library in the guest: the wire protocol by hand), collect the replies for HOLD
seconds, print a JSON summary, then disconnect (the caller "leaves").

  dbus-flood.py COUNT CONNECTIONS POOL OWNER HOLD

COUNT calls spread over CONNECTIONS connections (senders). Summary: {"sent", "returns",
"errors": {name: n}, "fast": {name or "return": n}, "pending_after_fast",
"max_pending_per_connection_after_fast", "unanswered"}; "fast" counts the replies that came
within $DBUS_FLOOD_FAST s (default 1) of the calls being sent, "unanswered" those still
pending after HOLD. $DBUS_FLOOD_SENT: a file created once every call is sent;
$DBUS_FLOOD_QUIET: one created once no answer came for 1 s (what is left is pending) after
at least COUNT - $DBUS_FLOOD_MAX_PENDING answers (default: any number). With
$DBUS_FLOOD_MAX_PENDING set, HOLD stretches to 3 s past that moment when it comes later (a
daemon slow to read the calls on a loaded host), by 60 s at most, so that "unanswered" is
what the daemon keeps pending, not what it has not read yet.
"""
import json
import os
import select
import socket
import struct
import sys
import time


def pad(buf, n):
    return buf + b'\0' * (-len(buf) % n)


def string(buf, s, code='s'):
    b = s.encode()
    if code == 'g':
        return buf + bytes([len(b)]) + b + b'\0'
    buf = pad(buf, 4)
    return buf + struct.pack('<I', len(b)) + b + b'\0'


def method_call(serial, path, iface, member, dest, sig, body):
    fields = b''
    for code, t, v in ((1, 'o', path), (2, 's', iface), (3, 's', member), (6, 's', dest), (8, 'g', sig)):
        if v is None:
            continue
        fields = pad(fields, 8) + bytes([code]) + string(b'', t, 'g')
        fields = string(fields, v, t)
    head = struct.pack('<cBBBIII', b'l', 1, 0, 1, len(body), serial, len(fields))
    return pad(head + fields, 8) + body


def allocate_body(pool, owner):
    b = string(b'', pool)
    b = string(b, owner)
    b = pad(b, 4) + struct.pack('<I', 0)  # empty a{sv}
    return pad(b, 8)


class Reader:
    def __init__(self, sock):
        self.sock, self.buf = sock, b''

    def feed(self, timeout):
        r, _, _ = select.select([self.sock], [], [], max(0, timeout))
        if not r:
            return False
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError('bus closed the connection')
        self.buf += data
        return True

    def messages(self):
        """Complete messages in the buffer: (type, reply_serial, error_name)."""
        out = []
        while len(self.buf) >= 16:
            _, mtype, _, _, blen, _, flen = struct.unpack_from('<cBBBIII', self.buf)
            hlen = 16 + flen + (-(16 + flen) % 8)
            if len(self.buf) < hlen + blen:
                break
            fields, i, reply, err = self.buf[16:16 + flen], 0, None, None
            while i < len(fields):
                i += -i % 8
                code = fields[i]
                slen = fields[i + 1]
                t = chr(fields[i + 2])
                i += 3 + slen
                if t in 'so':
                    i += -i % 4
                    (n,) = struct.unpack_from('<I', fields, i)
                    v = fields[i + 4:i + 4 + n].decode()
                    i += 4 + n + 1
                elif t == 'g':
                    n = fields[i]
                    v = fields[i + 1:i + 1 + n].decode()
                    i += 1 + n + 1
                else:  # u
                    i += -i % 4
                    (v,) = struct.unpack_from('<I', fields, i)
                    i += 4
                if code == 5:
                    reply = v
                elif code == 4:
                    err = v
            out.append((mtype, reply, err))
            self.buf = self.buf[hlen + blen:]
        return out


def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(os.environ.get('DBUS_FLOOD_SOCKET', '/run/dbus/system_bus_socket'))
    s.sendall(b'\0AUTH EXTERNAL ' + str(os.getuid()).encode().hex().encode() + b'\r\n')
    line = b''
    while not line.endswith(b'\r\n'):
        line += s.recv(1)
    if not line.startswith(b'OK'):
        sys.exit(f'auth failed: {line!r}')
    s.sendall(b'BEGIN\r\n')
    rd = Reader(s)
    s.sendall(method_call(1, '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'Hello',
                          'org.freedesktop.DBus', None, b''))
    got_hello = False
    while not got_hello:
        if not rd.feed(10):
            sys.exit('no answer to Hello')
        got_hello = any(reply == 1 for _, reply, _ in rd.messages())
    return rd


def main():
    count, conns, pool, owner, hold = (int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4],
                                       float(sys.argv[5]))
    readers = [connect() for _ in range(conns)]
    body = allocate_body(pool, owner)
    per = [count // conns + (1 if i < count % conns else 0) for i in range(conns)]
    for rd, n in zip(readers, per):
        rd.sock.sendall(b''.join(method_call(2 + i, '/org/sriovd1', 'org.sriovd1.Manager', 'Allocate',
                                             'org.sriovd1', 'ssa{sv}', body) for i in range(n)))
    sent_at = time.monotonic()
    if os.environ.get('DBUS_FLOOD_SENT'):
        open(os.environ['DBUS_FLOOD_SENT'], 'w').close()
    fast = float(os.environ.get('DBUS_FLOOD_FAST', '1'))
    summary = {'sent': count, 'connections': conns, 'fast_s': fast, 'returns': 0, 'errors': {}, 'fast': {}}
    answered = [0] * conns
    snap = None
    end = sent_at + hold
    quiet_file = os.environ.get('DBUS_FLOOD_QUIET')
    # Set: HOLD may stretch until the daemon has read the calls (see above); unset: HOLD is
    # when the caller leaves, whatever it has heard by then.
    wait_read = 'DBUS_FLOOD_MAX_PENDING' in os.environ
    max_pending = int(os.environ.get('DBUS_FLOOD_MAX_PENDING', str(count)))
    quiet = False
    last_reply = sent_at
    while True:
        for c, rd in enumerate(readers):
            for mtype, reply, err in rd.messages():
                if reply is None or reply < 2:
                    continue
                answered[c] += 1
                last_reply = time.monotonic()
                key = 'return' if mtype == 2 else err
                if mtype == 2:
                    summary['returns'] += 1
                else:
                    summary['errors'][err] = summary['errors'].get(err, 0) + 1
                if time.monotonic() - sent_at <= fast:
                    summary['fast'][key] = summary['fast'].get(key, 0) + 1
        now = time.monotonic()
        if not quiet and now - last_reply > 1.0 and sum(answered) >= count - max_pending:
            # No answer for 1 s: what is left is what the daemon keeps pending.
            quiet = True
            if quiet_file:
                open(quiet_file, 'w').close()
            summary['quiet_after_s'] = round(last_reply - sent_at, 2)
            if wait_read:
                end = min(max(end, now + 3.0), sent_at + hold + 60.0)
        if wait_read and not quiet and now >= end and end < sent_at + hold + 60.0:
            # Not even the answers the daemon may not keep pending yet: it is still reading.
            end = min(now + 1.0, sent_at + hold + 60.0)
        if snap is None and now - sent_at > fast:
            # Calls still unanswered FAST s after sending: what the daemon keeps pending.
            snap = [n - a for n, a in zip(per, answered)]
            summary['pending_after_fast'] = sum(snap)
            summary['max_pending_per_connection_after_fast'] = max(snap)
        left = min(end, sent_at + fast + 0.05 if snap is None else end, now + 0.2) - now
        if now >= end:
            break
        r, _, _ = select.select([rd.sock for rd in readers], [], [], max(0.0, left))
        for rd in readers:
            if rd.sock in r:
                rd.feed(0)
    summary['unanswered'] = sum(per) - sum(answered)
    summary['max_unanswered_per_connection'] = max(n - a for n, a in zip(per, answered))
    print(json.dumps(summary, sort_keys=True), flush=True)
    for rd in readers:
        rd.sock.close()


if __name__ == '__main__':
    main()
