// The README and the Slack manifest as a newcomer follows them, and docs/ against the code.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const manifest = readFileSync(new URL('../slack-app-manifest.yml', import.meta.url), 'utf8');
const anchor = (heading: string) => heading.trim().toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-');

describe('documents', () => {
  it('the manifest placeholder, replaced with PUBLIC_URL as the README says, gives the Request URL', () => {
    expect(readme).toContain('after replacing `YOUR-PUBLIC-URL` with the value\nof `PUBLIC_URL` (it includes `https://`)');
    const url = /^\s+url: (\S+)$/m.exec(manifest)![1]!;
    const replaced = url.replace('YOUR-PUBLIC-URL', 'https://whoop-sync.example.com');
    expect(replaced).toBe('https://whoop-sync.example.com/slack/commands');
  });

  it('"see [section](#anchor) above/below" points the right way', () => {
    const lines = readme.split('\n');
    const headings = new Map(lines.flatMap((line, index) => (/^#+ /.test(line) ? [[anchor(line.replace(/^#+ /, '')), index] as const] : [])));
    const references = [...readme.matchAll(/\[[^\]]+\]\(#([a-z0-9-]+)\)\s+(above|below)/g)];
    expect(references.length).toBeGreaterThan(0);
    for (const reference of references) {
      const at = readme.slice(0, reference.index).split('\n').length - 1;
      const target = headings.get(reference[1]!);
      expect(target, reference[0]).toBeDefined();
      expect({ reference: reference[0], direction: target! < at ? 'above' : 'below' }).toEqual({ reference: reference[0], direction: reference[2] });
    }
  });
});

// docs/*.md must not drift from the code: every environment variable (or other UPPER_SNAKE name) they put in
// backticks is spelled somewhere in the code or its configuration, and every src/ path they name exists.
describe('docs/*.md', () => {
  const root = new URL('../', import.meta.url);
  const docs = readdirSync(new URL('docs/', root)).filter((name) => name.endsWith('.md'));
  const codeFiles = (dir: string): string[] =>
    readdirSync(new URL(dir, root), { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? (entry.name === 'generated' ? [] : codeFiles(`${dir}${entry.name}/`)) : /\.(ts|js|json|jsonc|yml)$/.test(entry.name) ? [`${dir}${entry.name}`] : [],
    );
  const ci = readdirSync(new URL('.ci/', root), { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile());
  const code = [
    ...codeFiles('src/'),
    ...codeFiles('test/'),
    ...ci.map((entry) => `${entry.parentPath.slice(new URL(root).pathname.length)}/${entry.name}`),
    'Dockerfile',
    'docker-compose.yml',
    '.env.example',
    'package.json',
  ]
    .map((path) => readFileSync(new URL(path, root), 'utf8'))
    .join('\n');
  /** `src/sync/{runs,engine}.ts` names two files. */
  const expand = (path: string): string[] => {
    const brace = /\{([^}]*)\}/.exec(path);
    return brace ? brace[1]!.split(',').flatMap((part) => expand(path.replace(brace[0], part))) : [path];
  };

  for (const doc of docs) {
    const text = readFileSync(new URL(`docs/${doc}`, root), 'utf8');
    it(`${doc} names only environment variables the code knows`, () => {
      // Node's error codes (`ERR_…`) are Node's, not ours.
      const names = [...text.matchAll(/`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`/g)].map((match) => match[1]!).filter((name) => !name.startsWith('ERR_'));
      expect(names.filter((name) => !code.includes(name))).toEqual([]);
    });
    it(`${doc} names only src/ paths that exist`, () => {
      const paths = [...text.matchAll(/\bsrc\/[\w./{},-]*[\w}]/g)].flatMap((match) => expand(match[0]));
      expect(paths.filter((path) => !existsSync(new URL(path, root)))).toEqual([]);
    });
  }
});
