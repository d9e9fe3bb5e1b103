#!/usr/bin/python3
"""An upstream meter for metergate's poller tests, written with Debian's pymodbus (3.0), not with
metergate's code: input and holding registers 0-1999 of one unit id, over Modbus TCP (127.0.0.1,
port 0) or Modbus RTU on a serial device (a socat pty). Controlled by lines on stdin, each answered
by one line on stdout:

  float FC ADDRESS VALUE     write VALUE as an IEEE 754 float32, high word first, at ADDRESS (FC 3 or 4)
  words FC ADDRESS W1 W2...  write raw 16-bit words
  mode ok                    answer normally
  mode slow SECONDS          answer each request after SECONDS (the whole server waits)
  mode exception             answer every read with exception 0x02 (illegal data address)
  close                      TCP: stop listening and drop every connection (the meter unplugged)
  open                       TCP: listen again on the same port
  quit                       exit

Usage: pymodbus-upstream.py tcp UNIT | pymodbus-upstream.py rtu UNIT PATH BAUD PARITY(N|E|O)
Prints `ready PORT` (tcp) or `ready PATH` (rtu) once serving.
"""
import asyncio
import logging
import struct
import sys
import threading
import time

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.server.async_io import ModbusSerialServer, ModbusTcpServer
from pymodbus.transaction import ModbusRtuFramer

logging.basicConfig(stream=sys.stderr, level=logging.CRITICAL)
SIZE = 2000
state = {"mode": "ok", "delay": 0.0}


class MeterContext(ModbusSlaveContext):
    """The registers, and the fault the test asked for."""

    def validate(self, fc_as_hex, address, count=1):
        if state["mode"] == "exception":
            return False
        return super().validate(fc_as_hex, address, count)

    def getValues(self, fc_as_hex, address, count=1):
        if state["mode"] == "slow":
            time.sleep(state["delay"])
        return super().getValues(fc_as_hex, address, count)


def reply(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


async def main():
    kind, unit = sys.argv[1], int(sys.argv[2])
    slave = MeterContext(
        ir=ModbusSequentialDataBlock(0, [0] * SIZE),
        hr=ModbusSequentialDataBlock(0, [0] * SIZE),
        zero_mode=True,
    )
    # One unit id only: a request for another is not answered (as on a bus with one meter).
    context = ModbusServerContext(slaves={unit: slave}, single=False)
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    server = None
    port = 0

    async def listen():
        nonlocal server, port
        server = ModbusTcpServer(context, address=("127.0.0.1", port), allow_reuse_address=True,
                                 ignore_missing_slaves=True)
        task = asyncio.ensure_future(server.serve_forever())
        await server.serving
        port = server.server.sockets[0].getsockname()[1]
        return task

    if kind == "tcp":
        await listen()
        reply(f"ready {port}")
    else:
        path, baud, parity = sys.argv[3], int(sys.argv[4]), sys.argv[5]
        server = ModbusSerialServer(context, framer=ModbusRtuFramer, port=path, baudrate=baud,
                                    parity=parity, stopbits=1, bytesize=8, ignore_missing_slaves=True)
        await server.start()
        reply(f"ready {path}")

    async def command(line):
        parts = line.split()
        if not parts:
            return
        op = parts[0]
        if op == "float":
            fc, address, value = int(parts[1]), int(parts[2]), float(parts[3])
            high, low = struct.unpack(">HH", struct.pack(">f", value))
            slave.setValues(fc, address, [high, low])
        elif op == "words":
            slave.setValues(int(parts[1]), int(parts[2]), [int(w) for w in parts[3:]])
        elif op == "mode":
            state["mode"] = parts[1]
            state["delay"] = float(parts[2]) if len(parts) > 2 else 0.0
        elif op == "close" and kind == "tcp":
            await server.server_close()
        elif op == "open" and kind == "tcp":
            await listen()
        elif op == "quit":
            done.set_result(None)
        else:
            reply(f"error unknown command {line}")
            return
        reply("ok")

    def read_stdin():
        for line in sys.stdin:
            asyncio.run_coroutine_threadsafe(command(line.strip()), loop)
        loop.call_soon_threadsafe(lambda: done.done() or done.set_result(None))

    threading.Thread(target=read_stdin, daemon=True).start()
    await done


asyncio.run(main())
