/** Turns the raw measurements into the Markdown report. */
import type { ChildResult } from '../child.js';
import type { MicroRow } from '../micro.js';
import type { PairedIteration, PairedResult } from '../paired.js';
import { type RunTiming, SYSTEM_LABELS, type SystemName } from '../systems/types.js';
import { describeMachine, type MachineInfo } from './machine.js';
import { renderScenarios } from './scenario-report.js';
import type { Scenario, ScenarioResult } from './scenarios.js';
import { formatSummary, median, type Summary, summarize } from './stats.js';
import { WORKLOADS, type Workload, type WorkloadId } from './workloads.js';

export interface RoundRecord {
  round: number;
  results: ChildResult[];
  /** The scenario workloads' processes of this round (bench/scenario-child.ts). */
  scenarios?: ScenarioResult[];
}

export interface BenchReport {
  date: string;
  durationSeconds: number;
  machine: MachineInfo;
  settings: {
    threads: number;
    spinning: boolean;
    rounds: number;
    pairs: number;
    reps: number;
    nodeFlags: string;
  };
  workloads: Workload[];
  /** Scenario workloads selected (chat-10, profile-1000); absent in reports from before them. */
  scenarios?: Scenario[];
  rounds: RoundRecord[];
  paired: PairedResult | undefined;
  micro: MicroRow[] | undefined;
}

const msPerToken = (run: RunTiming, workload: Workload) => run.decodeMs / (workload.newTokens - 1);

/** One system's numbers in one round (the median of its repetitions). */
interface Point {
  loadMs: number;
  ttftMs: number;
  msPerToken: number;
  peakRssMb: number;
  tokenIds: number[];
}

function point(result: ChildResult): Point {
  const workload = WORKLOADS[result.workload];
  return {
    loadMs: result.loadMs,
    ttftMs: median(result.runs.map((r) => r.ttftMs)),
    msPerToken: median(result.runs.map((r) => msPerToken(r, workload))),
    peakRssMb: result.peakRssMb,
    tokenIds: result.runs[0].tokenIds,
  };
}

function pointsOf(report: BenchReport, id: WorkloadId): Map<SystemName, Point>[] {
  return report.rounds.map((round) => {
    const points = new Map<SystemName, Point>();
    for (const result of round.results) if (result.workload === id) points.set(result.system, point(result));
    return points;
  });
}

/** Per-round ratios a/b of a measure, summarised. */
function ratio(
  rounds: Map<SystemName, Point>[],
  a: SystemName,
  b: SystemName,
  measure: (p: Point) => number,
): Summary | undefined {
  const values = rounds
    .filter((r) => r.has(a) && r.has(b))
    .map((r) => measure(r.get(a)!) / measure(r.get(b)!));
  return values.length ? summarize(values) : undefined;
}

/** First differing position of two greedy token lists, or -1. */
function firstDifference(a: readonly number[], b: readonly number[]): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return -1;
}

function tokenCheck(report: BenchReport): string[] {
  const lines: string[] = [];
  let compared = 0;
  const problems: string[] = [];
  const check = (label: string, runs: [string, number[]][]) => {
    const [refName, ref] = runs[0];
    for (const [name, ids] of runs.slice(1)) {
      compared++;
      const at = firstDifference(ref, ids);
      if (at >= 0)
        problems.push(
          `${label}: ${name} differs from ${refName} at new token ${at} (${ref[at]} vs ${ids[at]})`,
        );
    }
  };
  for (const workload of report.workloads) {
    if (workload.sampling) continue;
    const rounds = pointsOf(report, workload.id);
    rounds.forEach((points, i) => {
      const runs = [...points].map(([s, p]) => [SYSTEM_LABELS[s], p.tokenIds] as [string, number[]]);
      if (runs.length > 1) check(`${workload.id} round ${i + 1}`, runs);
    });
    report.paired?.workloads[workload.id]?.forEach((iteration, i) => {
      const runs = Object.entries(iteration).map(
        ([s, r]) => [`${s} (paired)`, r.tokenIds] as [string, number[]],
      );
      if (runs.length > 1) check(`${workload.id} paired turn ${i + 1}`, runs);
    });
  }
  if (compared === 0) return lines;
  if (problems.length === 0) {
    lines.push(
      `**Greedy token ids:** identical for all systems in every round and paired turn (${compared} comparisons).`,
    );
  } else {
    lines.push(`**Greedy token ids: ${problems.length} mismatches of ${compared} comparisons:**`, '');
    for (const p of problems) lines.push(`- ${p}`);
  }
  return lines;
}

function systemsTable(report: BenchReport): string[] {
  const lines = [
    '| workload | system | load (ms) | time to first token (ms) | decode (tokens/s) | ms/token | peak RSS (MB) |',
    '|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const workload of report.workloads) {
    const rounds = pointsOf(report, workload.id);
    for (const system of workload.systems) {
      const points = rounds.map((r) => r.get(system)).filter((p): p is Point => p !== undefined);
      if (points.length === 0) continue;
      const s = (f: (p: Point) => number, digits: number) => formatSummary(summarize(points.map(f)), digits);
      lines.push(
        `| ${workload.id} | ${SYSTEM_LABELS[system]} | ${s((p) => p.loadMs, 0)} | ${s((p) => p.ttftMs, 0)} | ${s((p) => 1000 / p.msPerToken, 1)} | ${s((p) => p.msPerToken, 2)} | ${s((p) => p.peakRssMb, 0)} |`,
      );
    }
  }
  return lines;
}

function ratioTable(report: BenchReport): string[] {
  const lines = [
    '| workload | ms/token slmkit ÷ floor | ms/token slmkit ÷ transformers.js | speed vs transformers.js | TTFT slmkit ÷ transformers.js | peak RSS slmkit ÷ transformers.js |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const workload of report.workloads) {
    const rounds = pointsOf(report, workload.id);
    const perToken = (p: Point) => p.msPerToken;
    const speed = ratio(rounds, 'transformers', 'slmkit', perToken);
    lines.push(
      `| ${workload.id} | ${formatSummary(ratio(rounds, 'slmkit', 'floor', perToken), 3)} | ${formatSummary(ratio(rounds, 'slmkit', 'transformers', perToken), 3)} | ${speed ? `${formatSummary(speed, 3)}×` : '–'} | ${formatSummary(
        ratio(rounds, 'slmkit', 'transformers', (p) => p.ttftMs),
        2,
      )} | ${formatSummary(
        ratio(rounds, 'slmkit', 'transformers', (p) => p.peakRssMb),
        2,
      )} |`,
    );
  }
  // Sampling against greedy, both slmkit, same round.
  if (
    report.workloads.some((w) => w.id === 'sample-128') &&
    report.workloads.some((w) => w.id === 'greedy-128')
  ) {
    const sample = pointsOf(report, 'sample-128');
    const greedy = pointsOf(report, 'greedy-128');
    const values = sample
      .map((r, i) => {
        const s = r.get('slmkit');
        const g = greedy[i]?.get('slmkit');
        return s && g ? s.msPerToken / g.msPerToken : undefined;
      })
      .filter((v): v is number => v !== undefined);
    if (values.length) {
      lines.push(
        '',
        `slmkit sampling (T 0.8, top-k 50, top-p 0.9) ÷ slmkit greedy, ms/token, same round: ${formatSummary(summarize(values), 3)}`,
      );
    }
  }
  return lines;
}

function pairedTable(paired: PairedResult): string[] {
  const lines = [
    '| workload | turns | ms/token floor | ms/token slmkit | ms/token transformers.js | slmkit ÷ floor | slmkit ÷ transformers.js | speed vs transformers.js |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const [id, iterations] of Object.entries(paired.workloads) as [WorkloadId, PairedIteration[]][]) {
    const workload = WORKLOADS[id];
    const ms = (key: keyof PairedIteration) =>
      iterations
        .map((it) => it[key])
        .filter((r): r is RunTiming => r !== undefined)
        .map((r) => msPerToken(r, workload));
    const ratios = (a: keyof PairedIteration, b: keyof PairedIteration) => {
      const values = iterations
        .filter((it) => it[a] && it[b])
        .map((it) => msPerToken(it[a]!, workload) / msPerToken(it[b]!, workload));
      return values.length ? formatSummary(summarize(values), 3) : '–';
    };
    const baseline: keyof PairedIteration = workload.sampling ? 'slmkit-greedy' : 'floor';
    const cell = (values: number[]) => (values.length ? formatSummary(summarize(values), 2) : '–');
    lines.push(
      `| ${id}${workload.sampling ? ' (floor column: slmkit greedy)' : ''} | ${iterations.length} | ${cell(ms(baseline))} | ${cell(ms('slmkit'))} | ${cell(ms('transformers'))} | ${ratios('slmkit', baseline)} | ${ratios('slmkit', 'transformers')} | ${ratios('transformers', 'slmkit')}${iterations.length ? '×' : ''} |`,
    );
  }
  return lines;
}

function microTable(rows: readonly MicroRow[]): string[] {
  const lines = ['| group | case | vocab | µs per token (median, min–max) |', '|---|---|---:|---:|'];
  for (const r of rows) {
    const vocab = r.vocab === undefined ? '' : r.vocab.toLocaleString('en-US');
    lines.push(
      `| ${r.group} | ${r.name} | ${vocab} | ${r.usPerToken.toFixed(1)} (${r.minUs.toFixed(1)}–${r.maxUs.toFixed(1)}) |`,
    );
  }
  return lines;
}

export function renderReport(report: BenchReport): string {
  const { settings } = report;
  const lines: string[] = [
    `Run of ${report.date.slice(0, 16).replace('T', ' ')} UTC (${(report.durationSeconds / 60).toFixed(1)} min) on ${describeMachine(report.machine)}.`,
    `Model: SmolLM2-135M-shaped Llama (30 layers, hidden 576, 9 heads / 3 KV heads, vocab 32,000), fp32, random weights, built by test/fixtures. ` +
      `${settings.threads} intra-op threads, spinning ${settings.spinning ? 'on' : 'off'}${settings.nodeFlags ? `, node ${settings.nodeFlags}` : ''}.`,
    '',
  ];
  if (report.rounds.length && report.workloads.length) {
    lines.push(
      `### Separate processes, ${report.rounds.length} interleaved rounds`,
      '',
      'Each cell: median over rounds (min–max). Ratios are medians of per-round ratios; ms/token < 1 means slmkit is faster, speed > 1× means slmkit is faster.',
      '',
      ...ratioTable(report),
      '',
      ...systemsTable(report),
      '',
    );
  }
  if (report.paired) {
    lines.push(
      '### Paired run: one process, systems alternating run by run',
      '',
      ...pairedTable(report.paired),
      '',
    );
  }
  const check = tokenCheck(report);
  if (check.length) lines.push(...check, '');
  lines.push(
    ...renderScenarios(
      (report.scenarios ?? []).map((s) => s.id),
      report.rounds.map((r) => r.scenarios ?? []),
    ),
  );
  if (report.micro)
    lines.push('### Micro-benchmarks (slmkit JavaScript per token)', '', ...microTable(report.micro), '');
  const described = [...report.workloads, ...(report.scenarios ?? [])];
  lines.push(`Workloads: ${described.map((w) => `\`${w.id}\` ${w.title}`).join('; ')}.`);
  return lines.join('\n');
}
