// HTML text for the service's pages. `html` is a tagged template that escapes every interpolated value
// unless it is markup built by `html` itself, so a page cannot forget to escape one. (Five lines of our
// own rather than a dependency: see docs/demo.md.)

/** Markup that is already safe to insert. */
export class SafeHtml {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

type Value = SafeHtml | string | number | readonly SafeHtml[];

export function html(strings: TemplateStringsArray, ...values: Value[]): SafeHtml {
  let out = strings[0]!;
  values.forEach((value, index) => {
    const part = Array.isArray(value) ? value.join('') : value instanceof SafeHtml ? value.text : escapeHtml(String(value));
    out += part + strings[index + 1]!;
  });
  return new SafeHtml(out);
}
