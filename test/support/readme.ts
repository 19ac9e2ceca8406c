// The README's code, as a reader copies it into an app. A block that starts by naming its file
// (`// src/main.ts`, `{# views/posts.html #}`) is a file of its section's app; a name followed by
// `(Fastify)` is a variant that replaces the file of the same name (`// src/main.ts (Fastify)`).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { root } from './typecheck.js';

export interface ReadmeFile {
  section: string;
  path: string;
  variant: string | undefined;
  code: string;
}

const NAMED = /^(?:\/\/|\{#) ([\w./-]+\.\w+)(?: \(([^)]+)\))?(?: #\})?\n/;

/** Every block of the README that names its file, with the `## ` section it is in. */
export function readmeFiles(): ReadmeFile[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const headings = [...readme.matchAll(/^## (.+)$/gm)];
  const files: ReadmeFile[] = [];
  for (const block of readme.matchAll(/^```\w+\n([\s\S]*?)^```$/gm)) {
    const named = NAMED.exec(block[1]);
    if (named === null) continue;
    const section = headings.findLast((h) => h.index < block.index)?.[1] ?? '';
    files.push({ section, path: named[1], variant: named[2], code: block[1] });
  }
  return files;
}

/** A section's files, a variant's replacing the base ones they name. */
export function sectionFiles(section: string, variant?: string): ReadmeFile[] {
  const all = readmeFiles().filter((f) => f.section === section);
  if (all.length === 0) throw new Error(`the README has no named files under '## ${section}'`);
  const chosen = new Map<string, ReadmeFile>();
  for (const file of all) if (file.variant === undefined) chosen.set(file.path, file);
  for (const file of all) if (file.variant === variant && variant !== undefined) chosen.set(file.path, file);
  if (variant !== undefined && !all.some((f) => f.variant === variant))
    throw new Error(`the README has no '(${variant})' variant under '## ${section}'`);
  return [...chosen.values()];
}

/** A fresh directory under test/.readme (inside the repository, so the app's imports resolve). */
export function readmeDirectory(): { path: string; remove(): void } {
  mkdirSync(join(root, 'test', '.readme'), { recursive: true });
  const path = mkdtempSync(join(root, 'test', '.readme', 'app-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Writes files into a directory, by their names. */
export function writeFiles(directory: string, files: ReadmeFile[]): void {
  for (const file of files) {
    const target = join(directory, file.path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, file.code);
  }
}
