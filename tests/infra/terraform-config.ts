/**
 * Reads terraform/ with @cdktf/hcl2json (no terraform binary needed), for the checks of how
 * the code is written (module layout, documentation, versions, the IAM policies' source).
 * The infrastructure policies read the plan instead (plan-policies.ts).
 */
import { parse } from '@cdktf/hcl2json';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Block = Record<string, any>;

/** One directory of .tf files (a module), merged the way Terraform merges them. */
export interface ModuleConfig {
  /** Directory relative to the scanned root, e.g. `modules/queue` or `environments` (the root). */
  dir: string;
  files: string[];
  resource: Record<string, Record<string, Block>>;
  data: Record<string, Record<string, Block>>;
  module: Record<string, Block>;
  variable: Record<string, Block>;
  output: Record<string, Block>;
  locals: Record<string, any>;
  terraform: Block[];
}

export interface TerraformConfig {
  root: string;
  modules: Map<string, ModuleConfig>;
}

export async function listTfFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.name === '.terraform') continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.name.endsWith('.tf')) out.push(full);
    }
  };
  await walk(root);
  return out.sort();
}

export async function parseTfFile(file: string): Promise<Block> {
  return parse(path.basename(file), await readFile(file, 'utf8'));
}

/** Blocks come out of hcl2json as one-element arrays; this takes the body. */
const single = (value: unknown): Block => (Array.isArray(value) ? (value[0] as Block) : (value as Block));

export async function loadTerraform(root: string): Promise<TerraformConfig> {
  const modules = new Map<string, ModuleConfig>();
  for (const file of await listTfFiles(root)) {
    const dir = path.relative(root, path.dirname(file)).split(path.sep).join('/');
    let mod = modules.get(dir);
    if (!mod) {
      mod = { dir, files: [], resource: {}, data: {}, module: {}, variable: {}, output: {}, locals: {}, terraform: [] };
      modules.set(dir, mod);
    }
    const parsed = await parseTfFile(file);
    mod.files.push(path.basename(file));
    for (const kind of ['resource', 'data'] as const) {
      for (const [type, byName] of Object.entries((parsed[kind] ?? {}) as Record<string, Record<string, unknown>>)) {
        mod[kind][type] ??= {};
        for (const [name, body] of Object.entries(byName)) mod[kind][type]![name] = single(body);
      }
    }
    for (const kind of ['module', 'variable', 'output'] as const) {
      for (const [name, body] of Object.entries((parsed[kind] ?? {}) as Record<string, unknown>)) mod[kind][name] = single(body);
    }
    for (const locals of (parsed.locals ?? []) as Block[]) Object.assign(mod.locals, locals);
    mod.terraform.push(...((parsed.terraform ?? []) as Block[]));
  }
  return { root, modules };
}
