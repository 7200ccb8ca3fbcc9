/**
 * Writes (or, with --check, compares) the API reports in api/: one per public entry point, made by
 * API Extractor from the built type declarations, so any change of the public surface shows up in
 * review as a diff of api/*.api.md.
 *
 *   npm run build && npm run api          rewrite the reports
 *   npm run build && npm run api -- --check   fail when a report is out of date (the test suite does this)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Report name → package folder and built declaration file of the entry point. */
export const API_ENTRIES: Record<string, { pkg: string; dts: string; coreTypes?: 'elsewhere' }> = {
  core: { pkg: 'core', dts: 'dist/index.d.ts' },
  'core-backend': { pkg: 'core', dts: 'dist/backend.d.ts' },
  // Its signatures name core's types (LocalLanguageModel and what it uses), reported in core.api.md.
  'core-testing': { pkg: 'core', dts: 'dist/testing.d.ts', coreTypes: 'elsewhere' },
  node: { pkg: 'node', dts: 'dist/index.d.ts' },
  web: { pkg: 'web', dts: 'dist/index.d.ts' },
  server: { pkg: 'server', dts: 'dist/index.d.ts' },
  'server-node': { pkg: 'server', dts: 'dist/node.d.ts' },
  'ai-sdk': { pkg: 'ai-sdk', dts: 'dist/index.d.ts' },
};

/** Runs API Extractor for every entry; returns the names whose report differs from api/ (check mode). */
export function apiReport(check: boolean): string[] {
  const changed: string[] = [];
  const temp = mkdtempSync(join(tmpdir(), 'slmkit-api-'));
  try {
    for (const [name, { pkg, dts, coreTypes }] of Object.entries(API_ENTRIES)) {
      const projectFolder = join(root, 'packages', pkg);
      const configObject = {
        projectFolder,
        mainEntryPointFilePath: `<projectFolder>/${dts}`,
        compiler: {
          overrideTsconfig: {
            compilerOptions: { lib: ['ES2022', 'DOM'], types: ['node'], skipLibCheck: true },
          },
        },
        apiReport: {
          enabled: true,
          reportFileName: `${name}.api.md`,
          reportFolder: join(root, 'api'),
          reportTempFolder: temp,
        },
        docModel: { enabled: false },
        dtsRollup: { enabled: false },
        tsdocMetadata: { enabled: false },
        messages: {
          // Release tags (@public, @beta) are not used: what an entry exports is public.
          extractorMessageReporting: {
            'ae-missing-release-tag': { logLevel: 'none' },
            ...(coreTypes === 'elsewhere'
              ? { 'ae-forgotten-export': { logLevel: 'none' }, 'ae-unresolved-link': { logLevel: 'none' } }
              : {}),
            default: { logLevel: 'warning' },
          },
          tsdocMessageReporting: { default: { logLevel: 'none' } },
        },
      };
      const config = ExtractorConfig.prepare({
        configObject: configObject as never,
        configObjectFullPath: join(projectFolder, 'api-extractor.json'),
        packageJsonFullPath: join(projectFolder, 'package.json'),
      });
      const result = Extractor.invoke(config, { localBuild: !check, showVerboseMessages: false });
      if (check && result.apiReportChanged) changed.push(name);
    }
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
  return changed;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const check = process.argv.includes('--check');
  const changed = apiReport(check);
  if (changed.length > 0) {
    console.error(
      `API report out of date: ${changed.join(', ')}. Run \`npm run build && npm run api\` and commit api/.`,
    );
    process.exit(1);
  }
}
