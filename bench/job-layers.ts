/**
 * The job layers alone (bridge/codec, runtime backend, worker) on the in-memory bus: the same
 * workload as the jobbus legs of bench/compare.ts (100-byte JSON payload, `enqueueBulk` of 500,
 * concurrency 64, a no-op handler), without a broker, so that the CPU per job of jobbus's own
 * layers can be measured (and profiled) on a machine where the broker would add its noise.
 *
 *   BENCH_JOBS=20000 BENCH_REPS=5 npx tsx bench/job-layers.ts
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/job-layers.ts   # then profile-summary.ts with the printed window
 *
 * Prints each repetition's jobs/s and CPU µs per job (user + system of this process over the
 * clock window), and the median. The memory bus's own work is in the figure too (it is small).
 */
import { median } from './lib.js';
import { createMemoryEventBus } from '../src/eventbus/memory/bus.js';
import { jobbusThroughput } from './workloads/jobbus.js';
import { lastWindowUs } from './workloads/shared.js';

const N = Number(process.env.BENCH_JOBS ?? 20_000);
const REPS = Number(process.env.BENCH_REPS ?? 5);

async function main(): Promise<void> {
  const rates: number[] = [];
  const cpus: number[] = [];
  for (let r = 0; r < REPS; r++) {
    const cpu0 = process.cpuUsage();
    const rate = await jobbusThroughput(createMemoryEventBus(), `bench-layers-${r}`, `bench-layers-${r}`, N);
    const cpu = process.cpuUsage(cpu0);
    // CPU over the whole leg (warm-up and close included: both are small next to N jobs).
    const usPerJob = (cpu.user + cpu.system) / N;
    rates.push(rate);
    cpus.push(usPerJob);
    const [from, to] = lastWindowUs;
    console.error(`run ${r + 1}: ${Math.round(rate)} jobs/s, ${usPerJob.toFixed(1)} µs CPU/job; clock window ${from}..${to}`);
  }
  console.log(`memory bus, ${N} jobs x ${REPS}: median ${Math.round(median(rates))} jobs/s, ${median(cpus).toFixed(1)} µs CPU/job`);
}

await main();
