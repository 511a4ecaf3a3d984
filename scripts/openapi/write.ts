/**
 * Writes docs/openapi.json from document.ts and the typed client's types (client/schema.d.ts)
 * from that file: `npm run openapi` after changing a route. Tests fail while either is stale.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../local/python-env.ts';
import { openApiDocument } from './document.ts';

export const documentFile = join(repoRoot, 'docs', 'openapi.json');
export const clientTypesFile = join(repoRoot, 'client', 'schema.d.ts');

/** The document as committed: two-space JSON with a final newline. */
export function documentText(): string {
  return `${JSON.stringify(openApiDocument(), null, 2)}\n`;
}

/** openapi-typescript's output for a document file, as committed. */
export function clientTypesFor(file: string): string {
  return execFileSync(join(repoRoot, 'node_modules', '.bin', 'openapi-typescript'), [file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(documentFile, documentText());
  writeFileSync(clientTypesFile, clientTypesFor(documentFile));
  console.log(`wrote ${documentFile} and ${clientTypesFile}`);
}
