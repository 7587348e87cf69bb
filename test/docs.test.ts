// The README and the Slack manifest as a newcomer follows them.
import { readFileSync } from 'node:fs';
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
