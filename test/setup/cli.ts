/**
 * npm run brokers:up   — start Kafka and the schema registry detached, check NATS, Redis and
 *                        PostgreSQL, and write their addresses to .brokers/env
 *                        (`source .brokers/env`). `npm test` reuses them while they run.
 * npm run brokers:down — stop what brokers:up started.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  BROKERS_DIR,
  BrokerSetupError,
  ENV,
  UP_ENV_FILE,
  UP_PIDS,
  describe,
  ensureAll,
  isProcess,
  killProcess,
  readPid,
  readUpState,
} from './brokers.js';

const UP_RUN_DIR = path.join(BROKERS_DIR, 'up');

function say(msg: string): void {
  process.stderr.write(`[jobbus brokers] ${msg}\n`);
}

async function up(): Promise<void> {
  const t0 = Date.now();
  fs.mkdirSync(BROKERS_DIR, { recursive: true });
  const running = readUpState();
  if (!running.kafka || !running.registry) {
    // half-running state: stop the rest and start clean
    await down(true);
    fs.rmSync(UP_RUN_DIR, { recursive: true, force: true });
  }
  const brokers = await ensureAll({ runDir: UP_RUN_DIR, detached: true, reuse: running, log: say });
  for (const name of ['kafka', 'registry'] as const) {
    const s = brokers.services[name];
    if (s.origin === 'started' && s.pid) fs.writeFileSync(UP_PIDS[name].file, `${s.pid}\n`);
  }
  const lines = [
    '# Written by `npm run brokers:up`; `source .brokers/env` to use these in a shell.',
    '# `npm test` reuses Kafka and the registry listed here while their processes run.',
    ...Object.values(ENV).map((name) => `export ${name}=${brokers.env[name] ?? ''}`),
    '',
  ];
  fs.writeFileSync(UP_ENV_FILE, lines.join('\n'));
  say(`up in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${describe(brokers)}`);
  say(`logs in ${UP_RUN_DIR}; addresses in ${path.relative(process.cwd(), UP_ENV_FILE) || UP_ENV_FILE}; stop with \`npm run brokers:down\``);
  process.stdout.write(lines.filter((l) => l.startsWith('export')).join('\n') + '\n');
}

async function down(quiet = false): Promise<void> {
  const stopped: string[] = [];
  await Promise.all(
    (['kafka', 'registry'] as const).map(async (name) => {
      const { file, marker } = UP_PIDS[name];
      const pid = readPid(file);
      if (pid && isProcess(pid, marker)) {
        await killProcess(pid, 10_000);
        stopped.push(`${name} (pid ${pid})`);
      }
      fs.rmSync(file, { force: true });
    }),
  );
  fs.rmSync(UP_ENV_FILE, { force: true });
  if (!quiet) {
    fs.rmSync(UP_RUN_DIR, { recursive: true, force: true });
    say(stopped.length ? `stopped ${stopped.join(', ')}` : 'nothing was running');
  }
}

const cmd = process.argv[2];
try {
  if (cmd === 'up') await up();
  else if (cmd === 'down') await down();
  else {
    process.stderr.write('usage: tsx test/setup/cli.ts up|down\n');
    process.exitCode = 2;
  }
} catch (err) {
  process.stderr.write(`${err instanceof BrokerSetupError ? err.message : String((err as Error)?.stack ?? err)}\n`);
  process.exitCode = 1;
}
