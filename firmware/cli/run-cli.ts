/**
 * `metergate <command>`: the commissioning command line. Each command parses its own flags, prints
 * one clear line on error and exits non-zero (2: usage, 1: failure, 3: device in safe mode).
 */

import { auditCommand } from './audit-command.ts';
import { backupCommand } from './backup-command.ts';
import { CliError, type CommandIo } from './cli-error.ts';
import { exportCommand } from './export-command.ts';
import { factoryResetCommand } from './factory-reset-command.ts';
import { inspectCommand } from './inspect-command.ts';
import { keysCommand } from './keys-command.ts';
import { loginCommand } from './login-command.ts';
import { logoutCommand } from './logout-command.ts';
import { modbusCommand } from './modbus-command.ts';
import { provisionCommand } from './provision-command.ts';
import { registerCommand } from './register-command.ts';
import { registryCommand } from './registry-command.ts';
import { restoreCommand } from './restore-command.ts';
import { runCommand } from './run-command.ts';
import { sessionsCommand } from './sessions-command.ts';
import { securityCommand, settingsCommand } from './settings-command.ts';
import { tlsCommand } from './tls-command.ts';
import { updateCommand } from './update-command.ts';
import { usersCommand } from './users-command.ts';

type Command = (argv: readonly string[], io: CommandIo) => Promise<number>;

const COMMANDS: Record<string, { summary: string; run: Command }> = {
  run: {
    summary: "boot the device (see 'metergate run --help')",
    run: runCommand,
  },
  inspect: {
    summary: 'show the user table and store health of a data dir (never a secret)',
    run: inspectCommand,
  },
  'factory-reset': {
    summary: 'erase users, keys, certificates and log; new root key (root only)',
    run: factoryResetCommand,
  },
  provision: {
    summary: 'build a new device data dir offline from a commissioning file (YAML/JSON)',
    run: provisionCommand,
  },
  register: {
    summary: 'ask a device for an API key through its client registry (SCADA side)',
    run: registerCommand,
  },
  login: {
    summary: 'log in to a running device, show your permissions; keep the session for this shell',
    run: loginCommand,
  },
  logout: {
    summary: "end the session 'metergate login' kept",
    run: logoutCommand,
  },
  users: {
    summary: 'list, add, remove users and set passwords on a running device',
    run: usersCommand,
  },
  keys: {
    summary: 'create or revoke API keys on a running device',
    run: keysCommand,
  },
  settings: {
    summary: 'read or change measurement and communication settings of a running device',
    run: settingsCommand,
  },
  security: {
    summary: 'read or change security settings (whitelist, lockout, http, hostnames, syslog)',
    run: securityCommand,
  },
  modbus: {
    summary: 'Modbus enables, principal, unit id, client CA and CRL of a running device',
    run: modbusCommand,
  },
  registry: {
    summary: 'open or close client registration; list, allow or deny requests',
    run: registryCommand,
  },
  tls: {
    summary: 'show, upload or reset (new self-signed) the HTTPS certificate',
    run: tlsCommand,
  },
  sessions: {
    summary: "list or end your sessions (log out everywhere), or a user's",
    run: sessionsCommand,
  },
  audit: {
    summary: 'the security event log: list, follow, export as JSON lines or CSV',
    run: auditCommand,
  },
  backup: {
    summary: 'write an encrypted backup of the security settings of a running device',
    run: backupCommand,
  },
  restore: {
    summary: 'restore an encrypted backup onto a running device (the same or a replacement)',
    run: restoreCommand,
  },
  export: {
    summary: 'write the running configuration of a device as a commissioning file (no secrets)',
    run: exportCommand,
  },
  update: {
    summary: 'upload a signed firmware update, or show the firmware status',
    run: updateCommand,
  },
};

export const CLI_USAGE = `usage: metergate <command> [options]

commands:
${Object.entries(COMMANDS)
  .map(([name, command]) => `  ${name.padEnd(15)} ${command.summary}`)
  .join('\n')}

'metergate <command> --help' describes a command.`;

export async function runCli(argv: readonly string[], io: CommandIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    io.out(CLI_USAGE);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.err(`metergate: unknown command '${name}'\n${CLI_USAGE}`);
    return 2;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof CliError) {
      io.err(`metergate ${name}: ${error.message}`);
      return error.exitCode;
    }
    throw error;
  }
}
