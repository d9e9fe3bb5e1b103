#!/usr/bin/python3
"""An upstream energy meter for metergate's tests, built on Debian's python3-pymodbus (3.0.x).

It lays out one maker's registers as that maker's document describes them. The layouts below were
written from the documents (cited at each layout), NOT generated from metergate's profiles, so a
test reading this server through a profile catches a wrong address, encoding, word order or weight.

pymodbus does the protocol: its framers (Modbus/TCP MBAP, RTU with CRC), its request decoder and its
datastore execute each request. This file owns only the connection loop, so it can also misbehave on
purpose for the poller's tests.

Usage:
  pymodbus-meter.py --layout sdm630|sdm72d-m|em24|metergate (--tcp PORT | --serial PATH) [--unit N]

Prints one line `ready {"tcp": PORT}` or `ready {"serial": PATH}` once it serves (TCP on 127.0.0.1;
port 0 = any free port). Then reads commands on stdin, one a line, and answers each with `ok` or
`error <why>` on stdout:
  set NAME VALUE        a value in base units (V, A, W, var, VA, Hz, Wh, varh; power factor plain);
                        NAME as in metergate (u1, i2, pTotal, activeImportWh, ...). The server stores
                        it as the maker does (kWh float, Volt*10 integer, ...)
  raw FC ADDRESS W...   words (decimal or 0x hex) written as they are, from ADDRESS on (FC 3 or 4)
  mode normal           answer every request for our unit id
  mode silent           never answer (an unplugged meter)
  mode delay MS         answer after MS milliseconds
  mode exception CODE   answer every request with Modbus exception CODE (e.g. 2, 4, 11)
  mode wrong-unit       answer with another unit id in the response
  mode bad-crc          answer with a corrupted CRC (RTU only)
  requests              prints `requests N`, the requests received so far (answered or not)
  quit                  exit
Requests for another unit id are ignored, as on an RS-485 bus.
"""

import argparse
import asyncio
import json
import math
import os
import struct
import sys
import termios
import tty

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusSlaveContext, ModbusSparseDataBlock
from pymodbus.factory import ServerDecoder
from pymodbus.framer.rtu_framer import ModbusRtuFramer
from pymodbus.framer.socket_framer import ModbusSocketFramer
from pymodbus.pdu import ExceptionResponse

# --------------------------------------------------------------------------------------------------
# Layouts. Each entry: NAME -> (function codes, register address as the document gives it, how the
# value is stored). Addresses are converted to 0-based protocol addresses in one place per layout.
# --------------------------------------------------------------------------------------------------


def f32_be(value):
    """IEEE 754 single, high word first (two registers)."""
    hi, lo = struct.unpack(">HH", struct.pack(">f", value))
    return [hi, lo]


def int32_lsw_first(value):
    """Signed 32-bit, low word first (Carlo Gavazzi), bytes MSB first in each word."""
    hi, lo = struct.unpack(">HH", struct.pack(">i", value))
    return [lo, hi]


def int16(value):
    return [struct.unpack(">H", struct.pack(">h", value))[0]]


def uint64_be(value):
    return list(struct.unpack(">HHHH", struct.pack(">Q", value)))


# Eastron SDM630 Modbus V2, "SDM630Modbus Input Registers" (user manual section 1.2.1): 3X registers
# numbered from 30001, each parameter an IEEE 754 float in two registers, function code 04. The
# document's register numbers are used here; protocol address = number - 30001.
SDM630_INPUT = {
    # name: (register number, unit the meter reports, factor from base unit to that unit)
    "u1": (30001, "V", 1),  # Phase 1 line to neutral volts
    "u2": (30003, "V", 1),
    "u3": (30005, "V", 1),
    "i1": (30007, "A", 1),  # Phase 1 current
    "i2": (30009, "A", 1),
    "i3": (30011, "A", 1),
    "p1": (30013, "W", 1),  # Phase 1 power
    "p2": (30015, "W", 1),
    "p3": (30017, "W", 1),
    "s1": (30019, "VA", 1),  # Phase 1 volt amps
    "s2": (30021, "VA", 1),
    "s3": (30023, "VA", 1),
    "q1": (30025, "var", 1),  # Phase 1 volt amps reactive
    "q2": (30027, "var", 1),
    "q3": (30029, "var", 1),
    "pf1": (30031, "", 1),  # Phase 1 power factor
    "pf2": (30033, "", 1),
    "pf3": (30035, "", 1),
    "pTotal": (30053, "W", 1),  # Total system power
    "sTotal": (30057, "VA", 1),  # Total system volt amps
    "qTotal": (30061, "var", 1),  # Total system VAr
    "pfTotal": (30063, "", 1),  # Total system power factor
    "f": (30071, "Hz", 1),  # Frequency of supply voltages
    "activeImportWh": (30073, "kWh", 1e-3),  # Import Wh since last reset (kWh)
    "activeExportWh": (30075, "kWh", 1e-3),
    "reactiveImportVarh": (30077, "kvarh", 1e-3),  # Import VArh since last reset (kVArh)
    "reactiveExportVarh": (30079, "kvarh", 1e-3),
}

# Eastron SDM72D-M user manual V1.5, Part 3 "Modbus Protocol", Input Registers: the only registers
# that manual lists (float, function code 04).
SDM72D_M_INPUT = {
    "pTotal": (30053, "W", 1),  # Total system power
    "activeImportWh": (30073, "kWh", 1e-3),  # Total Import kWh
    "activeExportWh": (30075, "kWh", 1e-3),  # Total Export kWh
}

# Carlo Gavazzi EM24-DIN communication protocol, table 2.3-1 "Instantaneous variables and meters":
# physical addresses (hex) as printed, INT32 (LSW first) or INT16, "value weight" = the integer is the
# value times this. Function codes 03 and 04 both read these.
EM24 = {
    # name: (physical address, format, weight)
    "u1": (0x0000, "INT32", 10),  # V L1-N, Volt*10
    "u2": (0x0002, "INT32", 10),
    "u3": (0x0004, "INT32", 10),
    "i1": (0x000C, "INT32", 1000),  # A L1, Ampere*1000
    "i2": (0x000E, "INT32", 1000),
    "i3": (0x0010, "INT32", 1000),
    "p1": (0x0012, "INT32", 10),  # W L1, Watt*10
    "p2": (0x0014, "INT32", 10),
    "p3": (0x0016, "INT32", 10),
    "s1": (0x0018, "INT32", 10),  # VA L1, VA*10
    "s2": (0x001A, "INT32", 10),
    "s3": (0x001C, "INT32", 10),
    "q1": (0x001E, "INT32", 10),  # VAR L1, var*10
    "q2": (0x0020, "INT32", 10),
    "q3": (0x0022, "INT32", 10),
    "pTotal": (0x0028, "INT32", 10),  # W sys
    "sTotal": (0x002A, "INT32", 10),  # VA sys
    "qTotal": (0x002C, "INT32", 10),  # VAR sys
    "pf1": (0x002E, "INT16", 1000),  # PF L1, PF*1000
    "pf2": (0x002F, "INT16", 1000),
    "pf3": (0x0030, "INT16", 1000),
    "pfTotal": (0x0031, "INT16", 1000),  # PF sys
    "f": (0x0033, "INT16", 10),  # Hz, Hz*10
    "activeImportWh": (0x0034, "INT32", 10 / 1000),  # kWh(+) TOT, kWh*10 (value in Wh / 1000 * 10)
    "reactiveImportVarh": (0x0036, "INT32", 10 / 1000),  # kvarh(+) TOT, kvarh*10
    # kWh(-) TOT: address as Victron's EM24 driver reads it (not in the table we could read).
    "activeExportWh": (0x004E, "INT32", 10 / 1000),
}

# metergate's own published map (shared/REGISTERS.md, "metergate Modbus register map (v1)"):
# float32 ABCD measurements, uint64 Wh energies MSW first, FC3 and FC4 at the same addresses.
# Every register outside a block is unmapped there: the device answers 0x02, and so does this server.
METERGATE = {
    # name: (address, type)
    "u1": (0, "float32"),
    "u2": (2, "float32"),
    "u3": (4, "float32"),
    "i1": (6, "float32"),
    "i2": (8, "float32"),
    "i3": (10, "float32"),
    "pTotal": (12, "float32"),
    "qTotal": (14, "float32"),
    "sTotal": (16, "float32"),
    "pfTotal": (18, "float32"),
    "f": (20, "float32"),
    "activeImportWh": (100, "uint64"),
    "activeExportWh": (104, "uint64"),
    "reactiveImportVarh": (108, "uint64"),
    "reactiveExportVarh": (112, "uint64"),
}


class Layout:
    """Where each name lives and how a value in base units becomes the maker's words:
    entries[name] = (0-based address, encode(value) -> words, whether the register is a float)."""

    def __init__(self, name):
        self.name = name
        if name in ("sdm630", "sdm72d-m"):
            table = SDM630_INPUT if name == "sdm630" else SDM72D_M_INPUT
            self.function_codes = (4,)
            self.entries = {
                key: (number - 30001, lambda v, k=factor: f32_be(v * k), True)
                for key, (number, _unit, factor) in table.items()
            }
        elif name == "em24":
            self.function_codes = (3, 4)
            self.entries = {
                key: (
                    address,
                    (lambda v, w=weight: int32_lsw_first(round(v * w)))
                    if fmt == "INT32"
                    else (lambda v, w=weight: int16(round(v * w))),
                    False,
                )
                for key, (address, fmt, weight) in EM24.items()
            }
        elif name == "metergate":
            self.function_codes = (3, 4)
            self.entries = {
                key: (address, f32_be if kind == "float32" else (lambda v: uint64_be(int(v))), kind == "float32")
                for key, (address, kind) in METERGATE.items()
            }
        else:
            raise SystemExit(f"unknown layout {name}")

    def slave_context(self):
        """The datastore: dense zero-filled registers for the meters (which answer 0 for registers
        not in use), only the mapped registers for metergate (anything else: exception 0x02)."""
        if self.name == "metergate":
            def sparse():
                words = {}
                for address, encode, _ in self.entries.values():
                    for k, _ in enumerate(encode(0)):
                        words[address + k] = 0
                return ModbusSparseDataBlock(words)

            hr, ir = sparse(), sparse()
        else:
            # An Eastron meter's holding registers are its set-up, not its values: they stay 0 here.
            hr = ModbusSequentialDataBlock(0, [0] * 0x200)
            ir = ModbusSequentialDataBlock(0, [0] * 0x200)
        return ModbusSlaveContext(di=None, co=None, hr=hr, ir=ir, zero_mode=True)


class Meter:
    def __init__(self, layout, unit):
        self.layout = layout
        self.unit = unit
        self.context = layout.slave_context()
        self.mode = ("normal", None)
        self.requests = 0

    def set(self, name, value):
        entry = self.layout.entries.get(name)
        if entry is None:
            return f"error {name} is not in the {self.layout.name} layout"
        address, encode, is_float = entry
        if not math.isfinite(value) and not is_float:
            return "error only a float register can hold NaN or infinity"
        for fc in self.layout.function_codes:
            self.context.setValues(fc, address, encode(value))
        return "ok"

    def raw(self, fc, address, words):
        self.context.setValues(fc, address, words)
        return "ok"

    def respond(self, request):
        """The response pymodbus computes for `request`, or an exception in exception mode."""
        mode, arg = self.mode
        if mode == "exception":
            response = ExceptionResponse(request.function_code, arg)
        else:
            response = request.execute(self.context)
        response.transaction_id = request.transaction_id
        response.protocol_id = request.protocol_id
        response.unit_id = request.unit_id if mode != "wrong-unit" else (request.unit_id % 247) + 1
        return response


async def answer(meter, framer, request, write, rtu):
    meter.requests += 1
    mode, arg = meter.mode
    if mode == "silent":
        return
    if mode == "delay":
        await asyncio.sleep(arg / 1000)
    packet = framer.buildPacket(meter.respond(request))
    if rtu and meter.mode[0] == "bad-crc":
        packet = packet[:-1] + bytes([packet[-1] ^ 0xFF])
    write(packet)


async def serve_tcp(meter, port):
    async def on_client(reader, writer):
        framer = ModbusSocketFramer(ServerDecoder())
        try:
            while data := await reader.read(1024):
                requests = []
                framer.processIncomingPacket(data, requests.append, unit=[meter.unit], single=False)
                for request in requests:
                    await answer(meter, framer, request, writer.write, rtu=False)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(on_client, "127.0.0.1", port)
    bound = server.sockets[0].getsockname()[1]
    print(f"ready {json.dumps({'tcp': bound})}", flush=True)
    return server


async def serve_serial(meter, path):
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    tty.setraw(fd, termios.TCSANOW)
    framer = ModbusRtuFramer(ServerDecoder())
    loop = asyncio.get_running_loop()

    def write(packet):
        os.write(fd, packet)

    def readable():
        try:
            data = os.read(fd, 1024)
        except BlockingIOError:
            return
        except OSError:
            loop.remove_reader(fd)
            return
        requests = []
        try:
            framer.processIncomingPacket(data, requests.append, unit=[meter.unit], single=False)
        except Exception:  # noqa: BLE001 - noise on the line: drop the frame, as a meter would
            framer.resetFrame()
        for request in requests:
            loop.create_task(answer(meter, framer, request, write, rtu=True))

    loop.add_reader(fd, readable)
    print(f"ready {json.dumps({'serial': path})}", flush=True)
    return fd


def command(meter, line, rtu):
    parts = line.split()
    if not parts:
        return None
    try:
        if parts[0] == "set" and len(parts) == 3:
            return meter.set(parts[1], float(parts[2]))
        if parts[0] == "raw" and len(parts) >= 4:
            return meter.raw(int(parts[1], 0), int(parts[2], 0), [int(w, 0) & 0xFFFF for w in parts[3:]])
        if parts[0] == "mode" and len(parts) >= 2:
            mode = parts[1]
            if mode in ("normal", "silent", "wrong-unit"):
                meter.mode = (mode, None)
            elif mode == "bad-crc":
                if not rtu:
                    return "error bad-crc needs the serial line (Modbus/TCP has no CRC)"
                meter.mode = (mode, None)
            elif mode in ("delay", "exception") and len(parts) == 3:
                meter.mode = (mode, int(parts[2], 0))
            else:
                return f"error unknown mode {' '.join(parts[1:])}"
            return "ok"
        if parts[0] == "requests":
            return f"requests {meter.requests}"
    except ValueError as error:
        return f"error {error}"
    return f"error unknown command {line.strip()}"


async def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layout", required=True, choices=["sdm630", "sdm72d-m", "em24", "metergate"])
    parser.add_argument("--tcp", type=int)
    parser.add_argument("--serial")
    parser.add_argument("--unit", type=int, default=1)
    args = parser.parse_args()
    if (args.tcp is None) == (args.serial is None):
        parser.error("give exactly one of --tcp PORT and --serial PATH")
    meter = Meter(Layout(args.layout), args.unit)
    rtu = args.serial is not None
    if rtu:
        await serve_serial(meter, args.serial)
    else:
        await serve_tcp(meter, args.tcp)

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        text = line.decode().strip()
        if text == "quit":
            break
        reply = command(meter, text, rtu)
        if reply is not None:
            print(reply, flush=True)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
