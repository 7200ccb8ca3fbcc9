/** The Markdown of the `structured-output` workload: targets first, then where the time goes. */
import type { ScenarioResult } from './scenarios.js';
import { SCENARIOS } from './scenarios.js';
import { formatSummary, median, percentile, summarize } from './stats.js';
import {
  ALTERNATING_PAIRS,
  DECODE_NEW_TOKENS,
  DECODE_PROMPT_TOKENS,
  type DecodeMeasure,
  type DecodeRun,
  MASK_PASSES,
  type MaskMeasure,
  type MaskSteps,
  type StructuredRole,
} from './structured.js';

type Round = Map<StructuredRole, { mask?: MaskMeasure; decode?: DecodeMeasure; peakRssMb: number }>;

/** Median (min–max) over rounds of the defined values, or '–'. */
function cell(values: readonly (number | undefined)[], digits: number): string {
  const defined = values.filter((v): v is number => v !== undefined && Number.isFinite(v));
  return defined.length ? formatSummary(summarize(defined), digits) : '–';
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

/** Per round, the value `f` gives for the mask role of `vocab`. */
function perMaskRound(
  rounds: readonly Round[],
  role: 'mask-32k' | 'mask-152k',
  f: (m: MaskMeasure) => number,
) {
  return rounds.map((r) => {
    const m = r.get(role)?.mask;
    return m ? f(m) : undefined;
  });
}

/** ms per token of the free and the constrained runs of a decode measure (summed over its runs). */
function msPerToken(runs: readonly DecodeRun[], constrained: boolean): number | undefined {
  const chosen = runs.filter((r) => r.constrained === constrained);
  if (chosen.length === 0) return undefined;
  return sum(chosen.map((r) => r.decodeMs)) / sum(chosen.map((r) => r.tokenIds.length - 1));
}

/** Of the alternating role: the per-pair ratios' median, per round. */
function alternatingRatio(d: DecodeMeasure | undefined): number | undefined {
  if (!d) return undefined;
  const ratios: number[] = [];
  for (let k = 0; k + 1 < d.runs.length; k += 2) {
    const pair = d.runs.slice(k, k + 2);
    const c = msPerToken(pair, true);
    const f = msPerToken(pair, false);
    if (c !== undefined && f !== undefined) ratios.push(c / f);
  }
  return ratios.length ? median(ratios) : undefined;
}

function maskSection(rounds: readonly Round[]): string[] {
  const roles = ['mask-32k', 'mask-152k'] as const;
  /** One row: per vocabulary, the cells `f` makes of its per-round values. */
  const row = (label: string, ...cells: ((role: (typeof roles)[number]) => string)[]) =>
    `| ${label} | ${roles.map((role) => cells.map((c) => c(role)).join(' / ')).join(' | ')} |`;
  const of = (f: (m: MaskMeasure) => number, digits: number) => (role: (typeof roles)[number]) =>
    cell(perMaskRound(rounds, role, f), digits);
  const mean = (values: readonly number[]) => sum(values) / values.length;
  const tokens = roles.map((role) => of((m) => m.documentTokens, 0)(role));
  return [
    `Token mask per token: the document stepped through core's \`TokenMaskStage\` from \`ResponseFormatCompiler.masks()\` (${tokens[0]} tokens at 32k, ${tokens[1]} at 152k, the end-of-sequence token included; ${MASK_PASSES} passes per process, a fresh matcher from the cached format each pass). A step is what the engine does per token: await the mask, apply it to a logits row of the vocabulary's width, accept the token, await the next mask and read \`complete\` / \`ended\`. Per round: the median, p95, mean and max of the steps; cells: median over rounds (min–max). Compile times: ms per \`masks(format, 1, eos)\` call, the matcher included.`,
    '',
    '| ms | 32k (llama2 tokenizer) | 152k (Qwen3 tokenizer) |',
    '|---|---:|---:|',
    row(
      '**mask per token, median** (target ≤ 1 at 32k, ≤ 3 at 152k)',
      of((m) => median(m.perTokenMs), 3),
    ),
    row(
      'mask per token, p95',
      of((m) => percentile(m.perTokenMs, 0.95), 3),
    ),
    row(
      'mask per token, mean',
      of((m) => mean(m.perTokenMs), 3),
    ),
    row(
      'mask per token, max',
      of((m) => Math.max(...m.perTokenMs), 1),
    ),
    row(
      'of which xgrammar filling the mask: median / mean',
      of((m) => median(m.fillMs), 3),
      of((m) => mean(m.fillMs), 3),
    ),
    row(
      'of which applying it to the logits row (`process`): median / mean',
      of((m) => median(m.applyMs), 3),
      of((m) => mean(m.applyMs), 3),
    ),
    row(
      'of which accepting the token (`accept`): median',
      of((m) => median(m.acceptMs), 4),
    ),
    row(
      '**cached compile**, the same schema again (cache hit + a new matcher): median / p95 (target ≤ 50)',
      of((m) => median(m.cachedCompileMs), 3),
      of((m) => percentile(m.cachedCompileMs, 0.95), 3),
    ),
    row(
      'first compile in the process (tokenizer info + grammar + matcher, xgrammar cold)',
      of((m) => m.firstCompileMs, 0),
    ),
    row(
      'first compile on a fresh compiler, xgrammar warm: median',
      of((m) => median(m.warmFirstCompileMs), 0),
    ),
    row(
      'a second, different schema (tokenizer info exists): median / p95',
      of((m) => median(m.secondSchemaMs), 0),
      of((m) => percentile(m.secondSchemaMs, 0.95), 0),
    ),
    row(
      'loading @mlc-ai/web-xgrammar (once per process)',
      of((m) => m.xgrammarLoadMs, 0),
    ),
    row('peak RSS of the process (MB)', (role) =>
      cell(
        rounds.map((r) => r.get(role)?.peakRssMb),
        0,
      ),
    ),
  ];
}

function decodeSection(rounds: readonly Round[]): string[] {
  const separate = rounds.map((r) => {
    const c = r.get('constrained')?.decode;
    const f = r.get('free')?.decode;
    const cm = c && msPerToken(c.runs, true);
    const fm = f && msPerToken(f.runs, false);
    return cm !== undefined && fm !== undefined ? cm / fm : undefined;
  });
  const alternating = rounds.map((r) => alternatingRatio(r.get('alternating')?.decode));
  const ms = (role: StructuredRole, constrained: boolean) =>
    rounds.map((r) => {
      const d = r.get(role)?.decode;
      return d && msPerToken(d.runs, constrained);
    });
  const constrainedRuns = rounds.flatMap((r) =>
    (['constrained', 'alternating'] as const).flatMap(
      (role) => r.get(role)?.decode?.runs.filter((run) => run.constrained) ?? [],
    ),
  );
  const tokens = cell(
    constrainedRuns.map((r) => r.tokenIds.length),
    0,
  );
  const replays = rounds.map((r) => r.get('constrained')?.decode?.replay);
  const replayCell = (f: (m: MaskSteps) => number, digits: number) =>
    cell(
      replays.map((m) => m && f(m)),
      digits,
    );
  const replayShare = rounds.map((r, i) => {
    const m = replays[i];
    const free = r.get('free')?.decode;
    const freeMs = free && msPerToken(free.runs, false);
    return m && freeMs ? sum(m.perTokenMs) / m.perTokenMs.length / freeMs : undefined;
  });
  const reasons = [...new Set(constrainedRuns.map((r) => r.finishReason))].join(', ');
  const reference = constrainedRuns[0]?.tokenIds.join(',');
  const same = constrainedRuns.filter((r) => r.tokenIds.join(',') === reference).length;
  const lines = [
    `Decode: greedy on the SmolLM2-135M-shaped model, ${DECODE_PROMPT_TOKENS} prompt tokens (the bench's deterministic ids), up to ${DECODE_NEW_TOKENS} new tokens; unconstrained with no end-of-sequence (as every bench workload), constrained with the model's end-of-sequence id (the format allows it only once the document is complete). ms/token is decode time ÷ (tokens − 1), the same measure whatever count a run ends at. \`free\` and \`constrained\` run in fresh processes, order rotating by round; \`alternating\` is one process alternating them run by run (${ALTERNATING_PAIRS} pairs, free first then constrained first; its ratio is the median of the per-pair ratios).`,
    '',
    '| | constrained ÷ free, ms/token (target ≤ 1.05) | free ms/token | constrained ms/token |',
    '|---|---:|---:|---:|',
    `| **separate processes** (per-round ratio) | ${cell(separate, 3)} | ${cell(ms('free', false), 2)} | ${cell(ms('constrained', true), 2)} |`,
    `| one process, alternating (per-round ratio) | ${cell(alternating, 3)} | ${cell(ms('alternating', false), 2)} | ${cell(ms('alternating', true), 2)} |`,
    `| time to first token (ms), separate processes | ${cell(
      rounds.map((r) => {
        const c = r.get('constrained')?.decode?.runs[0]?.ttftMs;
        const f = r.get('free')?.decode?.runs[0]?.ttftMs;
        return c !== undefined && f !== undefined ? c / f : undefined;
      }),
      3,
    )} | ${cell(
      rounds.map((r) => r.get('free')?.decode?.runs[0]?.ttftMs),
      0,
    )} | ${cell(
      rounds.map((r) => r.get('constrained')?.decode?.runs[0]?.ttftMs),
      0,
    )} |`,
    '',
    `Constrained runs: ${tokens} new tokens, finish reason ${reasons || '–'}; ${same} of ${constrainedRuns.length} generated exactly the same tokens.`,
  ];
  lines.push(
    '',
    `The mask's own cost on the tokens the constrained run generated (a fresh mask stepped through them after the run, as in the mask roles, at the model's 32k width): ${replayCell((m) => median(m.perTokenMs), 3)} ms per token median, ${replayCell((m) => sum(m.perTokenMs) / m.perTokenMs.length, 3)} mean, ${replayCell((m) => Math.max(...m.perTokenMs), 1)} max; the mean is ${cell(
      replayShare.map((v) => v && v * 100),
      2,
    )}% of the free run's ms/token.`,
  );
  const sample = constrainedRuns[0]?.text;
  if (sample)
    lines.push(
      '',
      `Constrained output (greedy, random weights): \`${sample.slice(0, 300).replace(/`/g, "'")}${sample.length > 300 ? '…' : ''}\``,
    );
  return lines;
}

/** The 1-minute load averages seen by the workload's processes (at start and end). */
function loadLine(rounds: readonly Round[]): string {
  const loads = rounds.flatMap((r) =>
    [...r.values()].flatMap((v) => [...(v.mask?.loadAverage ?? v.decode?.loadAverage ?? [])]),
  );
  if (loads.length === 0) return '';
  return `Machine load: 1-minute load average ${median(loads).toFixed(1)} median (${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}) over the workload's processes (at their start and end).`;
}

/** The structured-output section of the report, or nothing when it did not run. */
export function renderStructured(rounds: readonly (readonly ScenarioResult[])[]): string[] {
  const perRound: Round[] = rounds
    .map((results) => {
      const byRole: Round = new Map();
      for (const r of results)
        if (r.scenario === 'structured-output')
          byRole.set(r.role, { mask: r.mask, decode: r.decode, peakRssMb: r.peakRssMb });
      return byRole;
    })
    .filter((r) => r.size > 0);
  if (perRound.length === 0) return [];
  return [
    `#### \`structured-output\`: ${SCENARIOS['structured-output'].title}`,
    '',
    `${perRound.length} round${perRound.length === 1 ? '' : 's'}, every role in a fresh process per round, the order of roles rotating. ${loadLine(perRound)}`,
    '',
    ...maskSection(perRound),
    '',
    ...decodeSection(perRound),
    '',
  ];
}
