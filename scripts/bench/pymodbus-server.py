#!/usr/bin/python3
"""The bench's Python peer: pymodbus's own Modbus TCP server (Debian python3-pymodbus 3.0.x), as an
integrator would run it: its asyncio server, socket framer, request decoder and a sequential datastore
of 100 holding and 100 input registers at unit 1 (the bench reads 22 from address 0 with FC3).

Usage: pymodbus-server.py. Prints `modbus ready {"port": N}` once it listens on 127.0.0.1 (a free port).
"""

import asyncio
import json
import logging
import sys

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.server.async_io import ModbusTcpServer


async def main():
    # Quiet: pymodbus logs every connection at INFO, which would cost it time the peer does not spend.
    logging.getLogger("pymodbus").setLevel(logging.ERROR)
    unit = ModbusSlaveContext(
        hr=ModbusSequentialDataBlock(0, list(range(100))),
        ir=ModbusSequentialDataBlock(0, list(range(100))),
        zero_mode=True,
    )
    context = ModbusServerContext(slaves={1: unit}, single=False)
    server = ModbusTcpServer(context, address=("127.0.0.1", 0), defer_start=False)
    task = asyncio.ensure_future(server.serve_forever())
    await server.serving
    port = server.server.sockets[0].getsockname()[1]
    sys.stdout.write(f"modbus ready {json.dumps({'port': port})}\n")
    sys.stdout.flush()
    await task


asyncio.run(main())
