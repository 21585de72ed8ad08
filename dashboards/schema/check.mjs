#!/usr/bin/env node
// Checks Grafana dashboard JSON files against Grafana's published types (@grafana/schema):
//   node check.mjs ../grafana/fleet-overview.json ../grafana/device-detail.json
// writes, per file, a .ts module in which the dashboard and each panel `satisfies` its type
// (types.ts), and runs `tsc --noEmit` on them. Exit status 0: all conform; 1: tsc's errors.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node check.mjs DASHBOARD.json...');
  process.exit(2);
}

function panelModule(board, name) {
  const lines = ["import type { GrafanaDashboard, Panels } from '../types';", ''];
  const names = [];
  const emit = (panel, where) => {
    const id = `panel_${names.length + 1}`;
    const kind = JSON.stringify(panel.type);
    lines.push(`// ${where}`);
    lines.push(`const ${id} = ${JSON.stringify(panel, null, 2)} satisfies Panels[${kind}];`, '');
    names.push(id);
    return id;
  };
  const top = (board.panels ?? []).map((panel, index) => {
    const where = `${name} panel ${index + 1}: ${panel.title ?? ''}`.replace(/\s+/g, ' ');
    if (panel.type === 'row' && Array.isArray(panel.panels) && panel.panels.length) {
      const inner = panel.panels.map((p, i) => emit(p, `${where} / ${i + 1}: ${p.title ?? ''}`));
      const row = { ...panel, panels: [] };
      const id = emit(row, where);
      return `{ ...${id}, panels: [${inner.join(', ')}] }`;
    }
    return emit(panel, where);
  });
  lines.push(`// ${name}: the dashboard`);
  if (!Object.hasOwn(board, 'panels')) {
    lines.push(`export const dashboard = ${JSON.stringify(board, null, 2)} satisfies GrafanaDashboard;`);
  } else {
    const rest = { ...board };
    delete rest.panels;
    const body = JSON.stringify(rest, null, 2).replace(/\n}$/, `,\n  "panels": [${top.join(', ')}]\n}`);
    lines.push(`export const dashboard = ${body} satisfies GrafanaDashboard;`);
  }
  return lines.join('\n') + '\n';
}

const work = mkdtempSync(join(here, '.check-'));
try {
  const modules = files.map((file, index) => {
    const board = JSON.parse(readFileSync(resolve(file), 'utf8'));
    const out = join(work, `${basename(file, '.json').replace(/[^A-Za-z0-9_]/g, '_')}_${index}.ts`);
    writeFileSync(out, panelModule(board, basename(file)));
    return out;
  });
  writeFileSync(
    join(work, 'tsconfig.json'),
    JSON.stringify({ extends: '../tsconfig.json', files: ['../types.ts', ...modules.map((m) => basename(m))] }),
  );
  const tsc = join(here, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [tsc, '--noEmit', '--pretty', 'false', '-p', join(work, 'tsconfig.json')], {
      cwd: here,
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
    });
  } catch (failure) {
    process.stdout.write(failure.stdout ?? '');
    process.stderr.write(failure.stderr ?? '');
    // tsc's lines name the generated file and line: show the panel each error is in.
    for (const module of modules) {
      const text = readFileSync(module, 'utf8').split('\n');
      const errors = (failure.stdout ?? '').split('\n').filter((l) => l.includes(basename(module) + '('));
      for (const error of errors) {
        const line = Number(/\((\d+),/.exec(error)?.[1] ?? 0);
        const where = text.slice(0, line).reverse().find((l) => l.startsWith('// '));
        if (where) console.log(`  in ${where.slice(3)}`);
      }
    }
    process.exitCode = 1; // not process.exit(): the finally below removes the generated files
  }
  if (!process.exitCode) console.log(`ok: ${files.length} dashboard(s) conform to @grafana/schema`);
} finally {
  if (!process.env.LIC_EXPORTER_KEEP_SCHEMA_CHECK) rmSync(work, { recursive: true, force: true });
}
