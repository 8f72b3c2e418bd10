// Every shufflectl command, in the order `shufflectl --help` lists them.
import type { Command } from '../command.js';
import { apps } from './apps.js';
import { cleanup } from './cleanup.js';
import { decommission } from './decommission.js';
import { metrics } from './metrics.js';
import { shuffles } from './shuffles.js';
import { status } from './status.js';
import { verify } from './verify.js';
import { ls } from './ls.js';
import { stat } from './stat.js';
import { du } from './du.js';
import { rm } from './rm.js';
import { put } from './put.js';
import { get } from './get.js';
import { quota } from './quota.js';

export const COMMANDS: readonly Command[] = [status, apps, shuffles, cleanup, metrics, decommission, verify, ls, stat, du, rm, put, get, quota];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}
