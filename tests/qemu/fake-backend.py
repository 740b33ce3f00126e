#!/usr/bin/env python3
"""A stand-in vsmmu backend for testing the QEMU front end without the
real backend: protocol version 1, docs/protocol.md.

It is not an SMMU. Its register file stores writes and reads them back
(IDR0..5 come from the config); translations are identity maps in 2 MiB
blocks, or faults for IOVAs in [FAULT_BASE, FAULT_BASE + 2 MiB); page
requests are queued and answered at once with a PAGE_RESPONSE. Writing a
command word to the test hook register (offset HOOK) makes it send
backend-channel traffic:
  1 + (line << 8)  IRQ line
  2                INVALIDATE ALL, then SYNC (the reply is logged)
  3                ATC_INV of sid (value >> 16) for [0, 4 KiB), then SYNC
  4                MSI to MSI_ADDR with data 0x1234
Every message is logged to stderr, one line each.
"""
import argparse
import mmap
import os
import socket
import struct
import sys

HDR = struct.Struct('<III')
REPLY, NEED_REPLY = 1 << 2, 1 << 3
HOOK = 0x1fff0
FAULT_BASE = 0xde0000000
MSI_ADDR = 0x40001000

CAPS_STAGE1, CAPS_ATS, CAPS_PRI = 1 << 0, 1 << 2, 1 << 3


def log(*a):
    print('fake-backend:', *a, file=sys.stderr, flush=True)


def recv_exact(sock, n, fds=None):
    buf = b''
    while len(buf) < n:
        if fds is not None:
            data, anc, _, _ = sock.recvmsg(n - len(buf), socket.CMSG_SPACE(16))
            for level, typ, cdata in anc:
                if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                    fds.extend(struct.unpack('%di' % (len(cdata) // 4),
                                             cdata[:len(cdata) // 4 * 4]))
        else:
            data = sock.recv(n - len(buf))
        if not data:
            raise EOFError
        buf += data
    return buf


class Backend:
    def __init__(self, sock, caps):
        self.sock = sock
        self.chan = None
        self.regs = {}
        self.caps = caps
        self.regions = []

    def send(self, sock, req, flags, payload):
        sock.sendall(HDR.pack(req, 1 | flags, len(payload)) + payload)

    def reply(self, req, payload):
        self.send(self.sock, req, REPLY, payload)

    def status(self, req, st=0):
        self.reply(req, struct.pack('<q', st))

    def chan_send(self, req, payload=b'', want_reply=False):
        self.send(self.chan, req, 0, payload)
        if want_reply:
            hdr = recv_exact(self.chan, HDR.size)
            r, f, sz = HDR.unpack(hdr)
            body = recv_exact(self.chan, sz)
            log('chan reply', r, hex(f), struct.unpack('<q', body)[0])

    def hook(self, value):
        cmd = value & 0xff
        if cmd == 1:
            self.chan_send(1, struct.pack('<I', (value >> 8) & 0xff))
        elif cmd == 2:
            self.chan_send(3, struct.pack('<IIIIHHIQQ', 0, 0, 0, 0, 0, 0, 0,
                                          0, 0))
            self.chan_send(6, want_reply=True)
        elif cmd == 3:
            self.chan_send(4, struct.pack('<IIIIQQ', value >> 16, 0, 0, 0,
                                          0, 4096))
            self.chan_send(6, want_reply=True)
        elif cmd == 4:
            self.chan_send(2, struct.pack('<QII', MSI_ADDR, 0x1234, 0))

    def serve(self):
        while True:
            fds = []
            req, flags, size = HDR.unpack(recv_exact(self.sock, HDR.size, fds))
            body = recv_exact(self.sock, size) if size else b''
            if req == 1:
                log('GET_FEATURES')
                self.reply(req, struct.pack('<Q', 0))
            elif req == 2:
                log('SET_FEATURES', struct.unpack('<Q', body)[0])
                self.status(req)
            elif req == 3:
                log('GET_CONFIG')
                idr = [0x0f0cffff & ~(1 << 10 if not self.caps & CAPS_ATS
                                       else 0), 0x4a0000, 0, 0, 0, 0x75]
                self.reply(req, struct.pack('<6IIIIBBBB', *idr, 0x43b, 0,
                                            self.caps, 20, 16, 48, 0))
            elif req == 4:
                log('SET_BACKEND_CHANNEL fds', len(fds))
                self.chan = socket.socket(fileno=fds[0])
                self.status(req)
            elif req == 5:
                ga, sz, off = struct.unpack('<QQQ', body)
                m = mmap.mmap(fds[0], sz, mmap.MAP_SHARED,
                              mmap.PROT_READ | mmap.PROT_WRITE, offset=off)
                self.regions.append((ga, sz, m))
                log('ADD_MEM_REGION 0x%x size 0x%x off 0x%x fds %d'
                    % (ga, sz, off, len(fds)))
                self.status(req)
            elif req == 6:
                log('REM_MEM_REGION', body.hex())
                self.status(req)
            elif req == 7:
                off, sz, _, _ = struct.unpack('<QIIQ', body)
                val = self.regs.get(off, 0)
                log('MMIO_READ 0x%x/%d -> 0x%x' % (off, sz, val))
                self.reply(req, struct.pack('<Q', val))
            elif req == 8:
                off, sz, _, val = struct.unpack('<QIIQ', body)
                log('MMIO_WRITE 0x%x/%d = 0x%x' % (off, sz, val))
                self.regs[off] = val
                if off == HOOK:
                    self.hook(val)
                if flags & NEED_REPLY:
                    self.status(req)
            elif req == 9:
                sid, fl, pb = struct.unpack('<IIB7x', body)
                log('REGISTER_ENDPOINT sid 0x%x flags %d pasid_bits %d'
                    % (sid, fl, pb))
                self.status(req)
            elif req == 10:
                sid, ssid, fl, _, iova = struct.unpack('<IIIIQ', body)
                log('TRANSLATE sid 0x%x ssid %d flags 0x%x iova 0x%x'
                    % (sid, ssid, fl, iova))
                base = iova & ~((1 << 21) - 1)
                if base == FAULT_BASE:
                    self.reply(req, struct.pack('<iIQQBBHHH', 1, 0, 0, 0,
                                                0, 0x10, 0, 0, 0))
                else:
                    self.reply(req, struct.pack('<iIQQBBHHH', 0, 3, base,
                                                base, 21, 0, 1, 0, 1))
            elif req == 11:
                sid, ssid, fl, prg, _, addr = struct.unpack('<IIIHHQ', body)
                log('PAGE_REQUEST sid 0x%x ssid %d flags 0x%x prg %d addr '
                    '0x%x' % (sid, ssid, fl, prg, addr))
                self.reply(req, struct.pack('<iI', 0, 0))
                if fl & (1 << 5) and fl & 6:
                    self.chan_send(5, struct.pack('<IIIHBB', sid, ssid,
                                                  fl & 1, prg, 0, 0))
            elif req == 12:
                log('RESET')
                self.status(req)
            else:
                log('unknown request', req)
                self.status(req, -38)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--fd', type=int)
    ap.add_argument('--socket-path')
    ap.add_argument('--no-ats', action='store_true')
    args = ap.parse_args()
    caps = CAPS_STAGE1 | (0 if args.no_ats else CAPS_ATS | CAPS_PRI)
    if args.fd is not None:
        conns = [socket.socket(fileno=args.fd)]
    else:
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if os.path.exists(args.socket_path):
            os.unlink(args.socket_path)
        srv.bind(args.socket_path)
        srv.listen(1)
        conns = None
    while True:
        sock = conns.pop() if conns else srv.accept()[0]
        log('connected')
        try:
            Backend(sock, caps).serve()
        except (EOFError, ConnectionError):
            log('disconnected')
        if args.fd is not None:
            return


if __name__ == '__main__':
    main()
