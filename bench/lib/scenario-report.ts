/** The Markdown of the scenario workloads (chat-10, profile-1000): ratios first, then the times. */
import {
  type ChatRole,
  type ChatTurn,
  type ProfileMeasure,
  type ProfileRole,
  SCENARIOS,
  type ScenarioId,
  type ScenarioResult,
} from './scenarios.js';
import { formatSummary, summarize } from './stats.js';
import { renderStructured } from './structured-report.js';

const CHAT_LABELS: Record<ChatRole, string> = {
  chat: 'slmkit createChat()',
  recompute: 'slmkit recompute',
  transformers: 'transformers.js',
};

/** Median (min–max) of the defined values, or '–'. */
function cell(values: readonly (number | undefined)[], digits: number): string {
  const defined = values.filter((v): v is number => v !== undefined && Number.isFinite(v));
  return defined.length ? formatSummary(summarize(defined), digits) : '–';
}

/** First differing position of two token lists, or -1. */
function firstDifference(a: readonly number[], b: readonly number[]): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** Per round: the turns of each chat role that ran in it. */
function chatRounds(rounds: readonly (readonly ScenarioResult[])[]): Map<ChatRole, ChatTurn[]>[] {
  return rounds.map((results) => {
    const byRole = new Map<ChatRole, ChatTurn[]>();
    for (const r of results) if (r.scenario === 'chat-10') byRole.set(r.role, r.turns);
    return byRole;
  });
}

function chatSection(rounds: readonly (readonly ScenarioResult[])[]): string[] {
  const perRound = chatRounds(rounds).filter((r) => r.size > 0);
  if (perRound.length === 0) return [];
  const roles: ChatRole[] = ['chat', 'recompute', 'transformers'];
  const turnCount = Math.max(...perRound.flatMap((r) => [...r.values()].map((t) => t.length)));
  const ttft = (r: Map<ChatRole, ChatTurn[]>, role: ChatRole, turn: number) => r.get(role)?.[turn]?.ttftMs;
  const ratioOf = (turn: number, a: ChatRole, b: ChatRole) =>
    perRound.map((r) => {
      const x = ttft(r, a, turn);
      const y = ttft(r, b, turn);
      return x !== undefined && y !== undefined ? x / y : undefined;
    });
  const growth = (role: ChatRole) =>
    perRound.map((r) => {
      const first = ttft(r, role, 0);
      const last = ttft(r, role, turnCount - 1);
      return first !== undefined && last !== undefined ? last / first : undefined;
    });
  const msPerToken = (role: ChatRole) =>
    perRound.flatMap((r) => (r.get(role) ?? []).map((t) => t.decodeMs / (t.tokenIds.length - 1)));
  const lines = [
    `#### \`chat-10\`: ${SCENARIOS['chat-10'].title}`,
    '',
    `Time to first token (TTFT) per turn, from the call until the caller has the first new token (template and tokenization included); ${perRound.length} rounds, each system in a fresh process per round. Ratios are medians of per-round ratios (min–max).`,
    '',
    `| | ${roles.map((r) => CHAT_LABELS[r]).join(' | ')} |`,
    '|---|---:|---:|---:|',
    `| **TTFT turn ${turnCount} ÷ turn 1** | ${roles.map((r) => cell(growth(r), 2)).join(' | ')} |`,
    `| decode ms/token, all turns | ${roles.map((r) => cell(msPerToken(r), 1)).join(' | ')} |`,
    '',
    '| turn | TTFT chat ÷ recompute | TTFT chat ÷ transformers.js | TTFT recompute ÷ transformers.js | TTFT chat (ms) | TTFT recompute (ms) | TTFT transformers.js (ms) | prompt tokens | prefilled by the chat |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (let turn = 0; turn < turnCount; turn++) {
    const chatTurns = perRound.map((r) => r.get('chat')?.[turn]);
    const promptTokens = perRound.map((r) => (r.get('chat') ?? r.get('recompute'))?.[turn]?.promptTokens);
    const prefilled = chatTurns.map((t) => (t ? t.promptTokens - t.cachedPromptTokens : undefined));
    lines.push(
      `| ${turn + 1} | ${cell(ratioOf(turn, 'chat', 'recompute'), 2)} | ${cell(ratioOf(turn, 'chat', 'transformers'), 2)} | ${cell(ratioOf(turn, 'recompute', 'transformers'), 2)} | ${roles
        .map((role) =>
          cell(
            perRound.map((r) => ttft(r, role, turn)),
            0,
          ),
        )
        .join(' | ')} | ${cell(promptTokens, 0)} | ${cell(prefilled, 0)} |`,
    );
  }
  lines.push('', ...chatTokenCheck(perRound));
  return lines;
}

/**
 * slmkit chat vs slmkit recompute: the same tokens every turn. transformers.js vs slmkit recompute:
 * the same tokens wherever both fed the same prompt ids (its replies are decoded and re-encoded by
 * its own tokenizer, so a difference there carries into the later turns' prompts).
 */
function chatTokenCheck(perRound: readonly Map<ChatRole, ChatTurn[]>[]): string[] {
  let sameTurns = 0;
  let compared = 0;
  const problems: string[] = [];
  let samePrompts = 0;
  let promptCompared = 0;
  let sameAfterSamePrompt = 0;
  perRound.forEach((r, round) => {
    const chat = r.get('chat');
    const recompute = r.get('recompute');
    const transformers = r.get('transformers');
    recompute?.forEach((turn, i) => {
      if (chat?.[i]) {
        compared++;
        // Not a defect when they differ: the chat continues from the tokens it generated, recompute
        // encodes the rendered conversation again, and a random model's replies rarely survive that.
        if (firstDifference(chat[i].tokenIds, turn.tokenIds) < 0) sameTurns++;
      }
      const other = transformers?.[i];
      if (other?.promptIds && turn.promptIds) {
        promptCompared++;
        const promptAt = firstDifference(other.promptIds, turn.promptIds);
        if (promptAt >= 0) {
          problems.push(
            `round ${round + 1} turn ${i + 1}: transformers.js's prompt ids differ from slmkit's at position ${promptAt} of ${turn.promptIds.length}`,
          );
          return;
        }
        samePrompts++;
        const at = firstDifference(other.tokenIds, turn.tokenIds);
        if (at < 0) sameAfterSamePrompt++;
        else
          problems.push(
            `round ${round + 1} turn ${i + 1}: transformers.js differs from recompute at new token ${at}`,
          );
      }
    });
  });
  const lines = [
    `**Tokens:** slmkit chat = slmkit recompute in ${sameTurns} of ${compared} turns (the chat continues from the tokens it generated, recompute encodes the rendered conversation again: with random weights the replies rarely survive that, see docs/chat.md); transformers.js fed the same prompt ids as slmkit in ${samePrompts} of ${promptCompared} turns, and generated the same tokens in ${sameAfterSamePrompt} of those.`,
  ];
  if (problems.length) lines.push('', ...problems.slice(0, 12).map((p) => `- ${p}`));
  if (problems.length > 12) lines.push(`- … and ${problems.length - 12} more`);
  return lines;
}

function profileSection(rounds: readonly (readonly ScenarioResult[])[]): string[] {
  const perRound = rounds
    .map((results) => {
      const byRole = new Map<ProfileRole, ProfileMeasure & { loadMs: number; peakRssMb: number }>();
      for (const r of results)
        if (r.scenario === 'profile-1000')
          byRole.set(r.role, { ...r.profile, loadMs: r.loadMs, peakRssMb: r.peakRssMb });
      return byRole;
    })
    .filter((r) => r.size > 0);
  if (perRound.length === 0) return [];
  const value = (role: ProfileRole, f: (p: ProfileMeasure) => number | undefined) =>
    perRound.map((r) => {
      const p = r.get(role);
      return p ? f(p) : undefined;
    });
  const ratio = (a: (r: Map<ProfileRole, ProfileMeasure>) => number | undefined) =>
    perRound.map((r) => {
      const x = a(r);
      const base = r.get('recompute')?.ttftMs;
      return x !== undefined && base !== undefined ? x / base : undefined;
    });
  const restore = (r: Map<ProfileRole, ProfileMeasure>) => r.get('restore');
  const save = perRound.map((r) => r.get('save')).find((p) => p !== undefined);
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  const sizeCell =
    save?.snapshotBytes !== undefined && save.kvBytes !== undefined
      ? `${save.snapshotBytes.toLocaleString('en-US')} bytes (${mib(save.snapshotBytes)}) in ${save.snapshotFiles} file; the keys and values alone are ${save.kvBytes.toLocaleString('en-US')} bytes, so ${(save.snapshotBytes - save.kvBytes).toLocaleString('en-US')} bytes of header and token ids`
      : '–';
  const lines = [
    `#### \`profile-1000\`: ${SCENARIOS['profile-1000'].title}`,
    '',
    `Every process is fresh and runs with \`prefixCache: false\`; each round has its own temporary cache directory. \`save\` prefills the profile with \`cachePrefix(profile, { persist: true })\` (then asks the question from it in memory); \`restore\`, a later process, calls the same \`cachePrefix\` (source \`storage\`) and asks; \`recompute\` asks with nothing saved. ${perRound.length} rounds; ratios are medians of per-round ratios (min–max).`,
    '',
    '| ratio (÷ TTFT recomputed) | |',
    '|---|---:|',
    `| **restore + TTFT from the restored prefix** | ${cell(
      ratio((r) => {
        const p = restore(r);
        return p?.cachePrefixMs !== undefined ? p.cachePrefixMs + p.ttftMs : undefined;
      }),
      3,
    )} |`,
    `| restore (fingerprint known) + TTFT | ${cell(
      ratio((r) => {
        const p = restore(r);
        return p?.reloadMs !== undefined ? p.reloadMs + p.ttftMs : undefined;
      }),
      3,
    )} |`,
    `| TTFT from the restored prefix alone | ${cell(
      ratio((r) => restore(r)?.ttftMs),
      3,
    )} |`,
    `| TTFT with the prefix computed in the same process (\`save\`) | ${cell(
      ratio((r) => r.get('save')?.ttftMs),
      3,
    )} |`,
    '',
    '| measure | value |',
    '|---|---:|',
    `| profile tokens (cachePrefix) / request tokens / reused by the request | ${cell(
      value('restore', (p) => p.prefixTokens),
      0,
    )} / ${cell(
      value('restore', (p) => p.requestTokens),
      0,
    )} / ${cell(
      value('restore', (p) => p.cachedPromptTokens),
      0,
    )} |`,
    `| snapshot size (the file under slmkit-state/) | ${sizeCell} |`,
    `| cachePrefix computing + persisting it (save) | ${cell(
      value('save', (p) => p.cachePrefixMs),
      0,
    )} ms |`,
    `| **restore**: cachePrefix loading it from storage, first call in the process (hashes the model file for its fingerprint) | ${cell(
      value('restore', (p) => p.cachePrefixMs),
      0,
    )} ms |`,
    `| restore again in the same process (fingerprint known) | ${cell(
      value('restore', (p) => p.reloadMs),
      0,
    )} ms |`,
    `| TTFT from the restored prefix | ${cell(
      value('restore', (p) => p.ttftMs),
      0,
    )} ms |`,
    `| TTFT recomputed (no saved prefix) | ${cell(
      value('recompute', (p) => p.ttftMs),
      0,
    )} ms |`,
    `| TTFT with the prefix in memory (save) | ${cell(
      value('save', (p) => p.ttftMs),
      0,
    )} ms |`,
    `| createModel (save / restore / recompute) | ${(['save', 'restore', 'recompute'] as const)
      .map((role) =>
        cell(
          perRound.map((r) => (r.get(role) as { loadMs: number } | undefined)?.loadMs),
          0,
        ),
      )
      .join(' / ')} ms |`,
    `| peak RSS (save / restore / recompute) | ${(['save', 'restore', 'recompute'] as const)
      .map((role) =>
        cell(
          perRound.map((r) => (r.get(role) as { peakRssMb: number } | undefined)?.peakRssMb),
          0,
        ),
      )
      .join(' / ')} MB |`,
    '',
  ];
  let compared = 0;
  const problems: string[] = [];
  perRound.forEach((r, round) => {
    const base = r.get('recompute');
    if (!base) return;
    for (const role of ['save', 'restore'] as const) {
      const other = r.get(role);
      if (!other) continue;
      compared++;
      const at = firstDifference(other.tokenIds, base.tokenIds);
      if (at >= 0) problems.push(`round ${round + 1}: ${role} differs from recompute at new token ${at}`);
    }
    const source = r.get('restore')?.cachePrefixSource;
    if (source !== undefined && source !== 'storage')
      problems.push(`round ${round + 1}: restore's cachePrefix came from ${source}`);
  });
  lines.push(
    problems.length === 0
      ? `**Tokens:** the requests from the saved prefix (restore) and from the in-memory one (save) generated the same tokens as the recomputed one in every round (${compared} comparisons).`
      : `**Tokens / sources: ${problems.length} problems in ${compared} comparisons:**`,
  );
  if (problems.length) lines.push('', ...problems.map((p) => `- ${p}`));
  return lines;
}

/** The scenario section of the report, or nothing when no scenario ran. */
export function renderScenarios(
  ids: readonly ScenarioId[],
  rounds: readonly (readonly ScenarioResult[])[],
): string[] {
  const lines: string[] = [];
  if (ids.includes('chat-10') || ids.includes('profile-1000'))
    lines.push('### Chat and saved prefixes (separate processes, interleaved rounds)', '');
  if (ids.includes('chat-10')) lines.push(...chatSection(rounds), '');
  if (ids.includes('profile-1000')) lines.push(...profileSection(rounds), '');
  if (ids.includes('structured-output'))
    lines.push(
      '### Structured output (separate processes, interleaved rounds)',
      '',
      ...renderStructured(rounds),
    );
  return lines;
}
