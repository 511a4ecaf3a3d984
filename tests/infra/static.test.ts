/**
 * Static verification of terraform/: every file parses, every module is complete, documented
 * and states its versions the way shared modules do. The infrastructure policies are checked
 * on the real plans (terraform-plan.test.ts).
 */
import { readFile } from 'node:fs/promises';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
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

  it('has the six modules, the composition and both environments', () => {
    const dirs = [...config.modules.keys()];
    for (const dir of ['function', 'queue', 'event-bus', 'table', 'http-api', 'alarms', 'event-flows']) expect(dirs).toContain(`modules/${dir}`);
    expect(dirs).toContain('environments/dev');
    expect(dirs).toContain('environments/prod');
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

  it.each(['environments/dev', 'environments/prod'])('%s bounds the range, and it admits the Terraform of .terraform-version', (dir) => {
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

  it('environments differ only in variables (same composition, same wiring)', async () => {
    for (const file of ['main.tf', 'variables.tf', 'outputs.tf', 'versions.tf']) {
      const dev = await readFile(path.join(terraformRoot, 'environments/dev', file), 'utf8');
      const prod = await readFile(path.join(terraformRoot, 'environments/prod', file), 'utf8');
      expect(prod, file).toBe(dev);
    }
    for (const env of ['dev', 'prod']) {
      const mod = config.modules.get(`environments/${env}`)!;
      expect(mod.module.event_flows?.source).toBe('../../modules/event-flows');
      expect(existsSync(path.join(terraformRoot, 'environments', env, 'terraform.tfvars'))).toBe(true);
      const backend = mod.terraform.find((t) => t.backend)?.backend;
      expect(backend?.s3, `${env} backend "s3"`).toBeDefined();
      for (const output of ['api_url', 'bus_names', 'table_names', 'dashboard_url', 'alarm_topic_arn']) expect(mod.output[output], `${env} output ${output}`).toBeDefined();
    }
  });
});
