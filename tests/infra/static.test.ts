/**
 * Static verification of terraform/: every file parses, every module is complete, documented
 * and states its versions the way shared modules do. The infrastructure policies are checked
 * on the real plans (terraform-plan.test.ts).
 */
import { parse } from '@cdktf/hcl2json';
import { readFile } from 'node:fs/promises';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { environmentNames } from '../../scripts/terraform-plan.ts';
import { listTfFiles, loadTerraform, parseTfFile, type TerraformConfig } from './terraform-config.ts';

const repo = path.resolve(import.meta.dirname, '../..');
const terraformRoot = path.join(repo, 'terraform');

let config: TerraformConfig;
beforeAll(async () => {
  config = await loadTerraform(terraformRoot);
});

describe('terraform/ parses', () => {
  it('every .tf file parses with hcl2json', async () => {
    const files = await listTfFiles(terraformRoot);
    expect(files.length).toBeGreaterThan(20);
    for (const file of files) await expect(parseTfFile(file), file).resolves.toBeTypeOf('object');
  });

  it('has the six modules, the composition and one root for both environments', () => {
    const dirs = [...config.modules.keys()];
    for (const dir of ['function', 'queue', 'event-bus', 'table', 'http-api', 'alarms', 'event-flows']) expect(dirs).toContain(`modules/${dir}`);
    expect(dirs.filter((dir) => !dir.startsWith('modules/'))).toEqual(['environments']);
    expect(environmentNames()).toEqual(['dev', 'prod']);
  });
});

describe('modules are complete', () => {
  const moduleDirs = readdirSync(path.join(terraformRoot, 'modules'));
  const terraformVersion = readFileSync(path.join(repo, '.terraform-version'), 'utf8').trim();

  it.each(moduleDirs)('%s has main.tf, variables.tf, outputs.tf, versions.tf and README.md', (dir) => {
    for (const file of ['main.tf', 'variables.tf', 'outputs.tf', 'versions.tf', 'README.md']) {
      expect(existsSync(path.join(terraformRoot, 'modules', dir, file)), `${dir}/${file}`).toBe(true);
    }
  });

  it.each(moduleDirs)('%s: every variable has a description and a type; every output a description', (dir) => {
    const mod = config.modules.get(`modules/${dir}`)!;
    for (const [name, variable] of Object.entries(mod.variable)) {
      expect(variable.description, `${dir} var.${name}`).toBeTruthy();
      expect(variable.type, `${dir} var.${name}`).toBeTruthy();
    }
    for (const [name, output] of Object.entries(mod.output)) expect(output.description, `${dir} output.${name}`).toBeTruthy();
  });

  it.each(moduleDirs)('%s: README lists every input and output', async (dir) => {
    const mod = config.modules.get(`modules/${dir}`)!;
    const readme = await readFile(path.join(terraformRoot, 'modules', dir, 'README.md'), 'utf8');
    for (const name of [...Object.keys(mod.variable), ...Object.keys(mod.output)]) expect(readme, `${dir} README`).toMatch(new RegExp(`^\\| ${name} \\|`, 'm'));
  });

  const versionConstraints = (dir: string) => {
    const mod = config.modules.get(dir)!;
    const aws = mod.terraform.flatMap((t) => t.required_providers ?? []).find((p) => p.aws)?.aws;
    return { terraform: mod.terraform.find((t) => t.required_version)?.required_version as string | undefined, awsSource: aws?.source, aws: aws?.version as string | undefined };
  };

  it.each(moduleDirs)('modules/%s states minimum versions (>=), as shared modules do', (dir) => {
    const { terraform, awsSource, aws } = versionConstraints(`modules/${dir}`);
    expect(terraform).toMatch(/^>= 1\.\d+$/);
    expect(awsSource).toBe('hashicorp/aws');
    expect(aws).toMatch(/^>= 6\.\d+$/);
  });

  it.each(['environments'])('%s (the root) bounds the range, and it admits the Terraform of .terraform-version', (dir) => {
    const { terraform, awsSource, aws } = versionConstraints(dir);
    const bounds = /^>= (\d+)\.(\d+), < (\d+)\.0$/.exec(terraform ?? '');
    expect(bounds, `${dir} required_version ${terraform}`).not.toBeNull();
    const [major, minor] = terraformVersion.split('.').map(Number) as [number, number];
    const [, low, lowMinor, high] = bounds!.map(Number) as [number, number, number, number];
    expect(major > low || (major === low && minor >= lowMinor), `.terraform-version ${terraformVersion} >= ${low}.${lowMinor}`).toBe(true);
    expect(major).toBeLessThan(high);
    expect(awsSource).toBe('hashicorp/aws');
    expect(aws).toMatch(/^>= 6\.\d+, < 7\.0$/);
  });

  it('no versions.tofu copies: OpenTofu reads the same >= constraints', () => {
    const tofuFiles = readdirSync(terraformRoot, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.tofu'));
    expect(tofuFiles).toEqual([]);
  });

  it('one root: environments differ only in <env>.tfvars and <env>.s3.tfbackend', async () => {
    const root = config.modules.get('environments')!;
    expect(root.module.event_flows?.source).toBe('../modules/event-flows');
    for (const output of ['api_url', 'bus_names', 'table_names', 'dashboard_url', 'alarm_topic_arn']) expect(root.output[output], `output ${output}`).toBeDefined();
    // A partial S3 backend: the state key is the environment's, given at init.
    const s3 = root.terraform.find((t) => t.backend)?.backend?.s3?.[0];
    expect(s3, 'backend "s3"').toBeDefined();
    expect(s3.key, 'no state key in backend.tf').toBeUndefined();
    // No per-environment directories: .terraform/ (TF_DATA_DIR=.terraform/<env>, ignored) is all an init leaves.
    const dirs = readdirSync(path.join(terraformRoot, 'environments'), { withFileTypes: true }).filter((e) => e.isDirectory() && !e.name.startsWith('.'));
    expect(dirs.map((e) => e.name)).toEqual([]);
    for (const env of environmentNames()) {
      const tfvars = parse(`${env}.tfvars`, await readFile(path.join(terraformRoot, 'environments', `${env}.tfvars`), 'utf8'));
      const backend = parse(`${env}.s3.tfbackend`, await readFile(path.join(terraformRoot, 'environments', `${env}.s3.tfbackend`), 'utf8'));
      expect((await tfvars).environment, `${env}.tfvars sets environment`).toBe(env);
      // Terraform only warns about a value for an undeclared variable: a misspelt name would pass unnoticed.
      for (const name of Object.keys(await tfvars)) expect(Object.keys(root.variable), `${env}.tfvars sets ${name}`).toContain(name);
      expect(await backend, `${env}.s3.tfbackend`).toEqual({ key: `event-flows/${env}/terraform.tfstate` });
    }
  });
});
