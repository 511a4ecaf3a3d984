/**
 * One Node.js major everywhere: the Lambda runtime Terraform deploys, the Node the tests and
 * the local stack run on (scripts/runtime/tools.ts), the bundle's target, package.json's
 * engines and @types/node.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../scripts/local/python-env.ts';
import { LAMBDA_NODE_MAJOR } from '../../scripts/runtime/tools.ts';

const read = (path: string) => readFileSync(join(repoRoot, path), 'utf8');

describe('the Lambda runtime Node major', () => {
  it('is the one Terraform deploys, the bundle targets and package.json declares', () => {
    const pkg = JSON.parse(read('package.json')) as { engines: { node: string }; devDependencies: Record<string, string> };
    expect({
      terraform: /runtime\s*=\s*"nodejs(\d+)\.x"/.exec(read('terraform/modules/function/main.tf'))?.[1],
      build: /target:\s*'node(\d+)'/.exec(read('build.mjs'))?.[1],
      engines: /^(\d+)\.x$/.exec(pkg.engines.node)?.[1],
      typesNode: /^\^?(\d+)\./.exec(pkg.devDependencies['@types/node'] ?? '')?.[1],
    }).toEqual({ terraform: String(LAMBDA_NODE_MAJOR), build: String(LAMBDA_NODE_MAJOR), engines: String(LAMBDA_NODE_MAJOR), typesNode: String(LAMBDA_NODE_MAJOR) });
  });

  it('is the Node the tests run on', () => {
    expect(process.versions.node.split('.')[0], 'run the tests with npm test: it puts the Lambda runtime Node first on PATH').toBe(String(LAMBDA_NODE_MAJOR));
  });
});
