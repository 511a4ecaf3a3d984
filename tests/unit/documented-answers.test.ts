/**
 * The docs promise answers; these check the promises against the code that gives them
 * (issue 19.7: docs/IMPORT.md said 413 for 1,001 items while the API answered 400, and the
 * README promised `{"error": ...}` on every error while the gateway answers `{"message": ...}`).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MAX_REQUEST_ITEMS } from '../../functions/shared/imports/limits.ts';
import { apiGatewayErrors } from '../../scripts/local/http-api.ts';
import { functions, queues, routes } from '../../scripts/local/topology.ts';

const doc = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8').replace(/\s+/g, ' ');

describe('documented answers', () => {
  it('docs/IMPORT.md: too many items is a 400 naming body.items, too many bytes a 413', () => {
    const limits = doc('docs/IMPORT.md').match(/Limits of a request: (.*?)\. An item is/)?.[1] ?? '';
    expect(limits).toContain(`**${MAX_REQUEST_ITEMS.toLocaleString('en')} items** (more is a 400 \`VALIDATION_FAILED\` naming \`body.items\``);
    expect(limits).toMatch(/\*\*5 MB\*\* of body \(more is a 413/);
  });

  it('docs/ANALYTICS.md: properties is an object, not an array', () => {
    expect(doc('docs/ANALYTICS.md')).toContain('`properties` an object (not an array)');
  });

  it.each([
    ['401', apiGatewayErrors.unauthorized('x')],
    ['404', apiGatewayErrors.notFound()],
    ['413', apiGatewayErrors.tooLarge()],
  ])('README: the gateway\'s own %s body is documented as it is answered', (status, answer) => {
    expect(String(answer.statusCode)).toBe(status);
    expect(doc('README.md')).toContain(`${status} \`${answer.body.toString()}\``);
  });

  it('docs/ARCHITECTURE.md: the functions table gives each function of the topology its entry, every route it serves and the queue it consumes', () => {
    const rows = new Map(
      readFileSync(new URL('../../docs/ARCHITECTURE.md', import.meta.url), 'utf8')
        .split('\n')
        .map((line) => line.split('|').map((cell) => cell.trim()))
        .filter((cells) => cells.length > 5 && cells[2]!.startsWith('`functions/'))
        .map((cells) => [cells[1]!, { entry: cells[2]!, invokedBy: cells[3]! }]),
    );
    expect([...rows.keys()].sort()).toEqual(Object.keys(functions).sort());
    for (const [name, row] of rows) {
      expect(row.entry, name).toBe(`\`functions/${name}/handler.ts\``);
      const served = Object.entries(routes).filter(([, route]) => route.function === name).map(([key]) => key);
      const documented = [...row.invokedBy.matchAll(/`((?:GET|POST|PUT|PATCH|DELETE) [^`]+)`/g)].map((m) => m[1]);
      expect(documented, `${name}: its routes`).toEqual(served);
      for (const [queue, declaration] of Object.entries(queues)) expect(row.invokedBy.includes(`the \`${queue}\` queue`), `${name}: the ${queue} queue`).toBe(declaration.consumer === name);
    }
  });
});
