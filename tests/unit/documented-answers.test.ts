/**
 * The docs promise answers; these check the promises against the code that gives them
 * (issue 19.7: docs/IMPORT.md said 413 for 1,001 items while the API answered 400, and the
 * README promised `{"error": ...}` on every error while the gateway answers `{"message": ...}`).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MAX_REQUEST_ITEMS } from '../../functions/shared/imports/limits.ts';
import { apiGatewayErrors } from '../../scripts/local/http-api.ts';

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
});
