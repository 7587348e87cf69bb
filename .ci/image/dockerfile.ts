// The Dockerfile, replayed without a Docker engine. dockerfile-ast parses it (continuations, flags, exec and
// shell forms, ARG expansion); this module applies the instructions. Each stage gets a directory that stands
// for its root file system, and container paths map into it. COPY copies like Docker (a directory's contents;
// files into a directory when the destination ends with / or there are several sources). RUN lines made only
// of npm commands are executed in the stage's WORKDIR. Other RUN lines (system packages, users) cannot run
// outside a container: they are refused in a build stage and listed as not replayed in the final stage, whose
// run-time effects the calling script provides (tini from the same Debian package; the VOLUME directories
// writable for USER).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  Copy, DockerfileParser, Env, From, Healthcheck, JSONInstruction, ModifiableInstruction, Run, type Instruction,
} from 'dockerfile-ast';
import { die, dockerignore, run } from './util.js';

/** What the final stage leaves for `docker run`: written to image.json, read by contents.ts and service.ts. */
export interface Image {
  target: string;
  root: string;
  workdir: string;
  workdirHost: string;
  env: Record<string, string>;
  /** The ENV as the replayed process sees it: container paths that exist in the replay mapped into it. */
  mappedEnv: Record<string, string>;
  user: string;
  expose: string[];
  volumes: string[];
  volumesHost: string[];
  entrypoint: string[];
  cmd: string[];
  healthcheck: { options: Record<string, string>; test: string[] } | null;
  stopsignal: string;
  notReplayed: string[];
}

interface Stage {
  name: string;
  image: string;
  root: string;
  workdir: string;
  env: Record<string, string>;
  user: string;
  expose: string[];
  volumes: string[];
  entrypoint: string[] | null;
  cmd: string[] | null;
  healthcheck: Image['healthcheck'];
  stopsignal: string | null;
  notReplayed: string[];
}

const parse = (file: string) => DockerfileParser.parse(fs.readFileSync(file, 'utf8'));
const words = (ins: Instruction): string[] => ins.getExpandedArguments().map((a) => a.getValue());
const flagsOf = (ins: Instruction): Record<string, string> =>
  ins instanceof ModifiableInstruction ? Object.fromEntries(ins.getFlags().map((f) => [f.getName(), f.getValue() ?? ''])) : {};
const execForm = (ins: Instruction): string[] | null => {
  const json = ins instanceof JSONInstruction ? ins.getJSONStrings().map((a) => a.getJSONValue()) : [];
  return json.length ? json : null;
};
const shellForm = (ins: Instruction): string[] => ['/bin/sh', '-c', ins.getArgumentsContent() ?? ''];
const unquote = (s: string): string => (/^(["']).*\1$/s.test(s) ? s.slice(1, -1) : s);
// $VAR and ${VAR} (with :- defaults) in ENV values: dockerfile-ast expands them in arguments but not in the
// properties that ENV is read from.
const substitute = (value: string, lookup: (name: string) => string | null | undefined): string =>
  value.replace(/\$\{([A-Za-z_]\w*)(?::?-([^}]*))?\}|\$([A-Za-z_]\w*)/g, (_all, a?: string, def?: string, b?: string) =>
    lookup((a ?? b)!) || (def ?? ''));
// Go's filepath.Match, as COPY uses it, is the per-segment matcher of .dockerignore too.
const segmentMatches = (name: string, segment: string): boolean =>
  dockerignore([segment]).ignores(name);

/** The external base images of the stages (a FROM that names an earlier stage is not one). */
export function bases([dockerfile]: string[]): void {
  if (!dockerfile) die('usage: bases DOCKERFILE');
  const stages = new Set<string>();
  for (const from of parse(dockerfile).getFROMs()) {
    const image = words(from)[0] ?? die(`FROM without an image at line ${from.getRange().start.line + 1}`);
    if (!stages.has(image)) console.log(image);
    const name = from.getBuildStage();
    if (name) stages.add(name);
  }
}

/** Files matched by a COPY source (a path, or a glob with * ? [ in its segments) below base. */
function expandSource(base: string, pattern: string): string[] {
  const clean = pattern.replace(/^\/+/, '').replace(/\/+$/, '') || '.';
  let candidates = [base];
  for (const segment of clean.split('/')) {
    const glob = /[*?[]/.test(segment);
    candidates = candidates.flatMap((dir) => {
      if (!glob) return fs.existsSync(path.join(dir, segment)) ? [path.join(dir, segment)] : [];
      if (!fs.statSync(dir).isDirectory()) return [];
      return fs.readdirSync(dir).sort().filter((n) => segmentMatches(n, segment)).map((n) => path.join(dir, n));
    });
  }
  return candidates;
}

const NPM_ONLY = /^\s*(npm|npx)\s[^;|&`$<>]*$/;

export function replay([dockerfile, contextDir, out]: string[]): void {
  if (!dockerfile || !contextDir || !out) die('usage: replay DOCKERFILE CONTEXT OUT');
  const parsed = parse(dockerfile);
  const instructions = parsed.getInstructions();
  const lastFrom = instructions.findLastIndex((i) => i instanceof From);
  const stages: Stage[] = [];
  const stageByName = new Map<string, Stage>();
  let stage: Stage | null = null;
  const containerPath = (st: Stage, p: string) => (p.startsWith('/') ? path.posix.normalize(p) : path.posix.join(st.workdir, p));
  const toHost = (st: Stage, p: string) => path.join(st.root, p);

  for (const [index, ins] of instructions.entries()) {
    const op = ins.getKeyword();
    const text = ins.getArgumentsContent() ?? '';
    if (op === 'ARG') continue; // dockerfile-ast expands ARGs in the instructions that use them
    if (ins instanceof From) {
      const image = words(ins)[0] ?? die(`FROM without an image: ${text}`);
      const parent = stageByName.get(image);
      stage = {
        name: ins.getBuildStage() ?? String(stages.length),
        image: parent ? parent.image : image,
        root: '',
        workdir: parent ? parent.workdir : '/',
        env: parent ? { ...parent.env } : {},
        user: parent ? parent.user : 'root',
        expose: [], volumes: [], entrypoint: null, cmd: null, healthcheck: null, stopsignal: null, notReplayed: [],
      };
      stage.root = path.join(out, 'stages', stage.name);
      fs.rmSync(stage.root, { recursive: true, force: true });
      fs.mkdirSync(stage.root, { recursive: true });
      if (parent) run('cp', ['-a', `${parent.root}/.`, stage.root]);
      stages.push(stage);
      stageByName.set(stage.name, stage);
      console.log(`\n--- stage ${stage.name} (FROM ${image}) ---`);
      continue;
    }
    if (!stage) die(`${op} before FROM`);
    console.log(`${op} ${text.length > 110 ? text.slice(0, 107) + '...' : text}`);
    const flags = flagsOf(ins);
    switch (op) {
      case 'WORKDIR':
        stage.workdir = containerPath(stage, words(ins).join(' '));
        fs.mkdirSync(toHost(stage, stage.workdir), { recursive: true });
        break;
      case 'ENV': {
        const env = stage.env;
        const line = ins.getRange().start.line;
        for (const p of ins instanceof Env ? ins.getProperties() : []) {
          env[p.getName()] = substitute(unquote(p.getUnescapedValue() ?? ''), (n) => env[n] ?? parsed.resolveVariable(n, line));
        }
        break;
      }
      case 'COPY': {
        for (const f of Object.keys(flags)) {
          if (!['from', 'chown', 'chmod', 'link'].includes(f)) die(`COPY --${f} is not supported by the replay`);
        }
        if (ins instanceof Copy && ins.getHeredocs().length) die(`COPY with a heredoc is not supported by the replay: ${text}`);
        const args = execForm(ins) ?? words(ins);
        const dest = args.pop();
        if (!dest || !args.length) die(`COPY needs a source and a destination: ${text}`);
        let base = contextDir;
        if (flags.from) {
          base = stageByName.get(flags.from)?.root ?? die(`COPY --from=${flags.from}: only earlier stages can be replayed`);
        }
        const sources = args.flatMap((w) => {
          const found = expandSource(base, w);
          if (!found.length) die(`COPY failed: ${w} not found in ${flags.from ? `stage ${flags.from}` : 'the build context'}`);
          return found;
        });
        const destHost = toHost(stage, containerPath(stage, dest));
        const intoDir = dest.endsWith('/') || sources.length > 1 || (fs.existsSync(destHost) && fs.statSync(destHost).isDirectory());
        for (const src of sources) {
          if (fs.statSync(src).isDirectory()) {
            fs.mkdirSync(destHost, { recursive: true });
            run('cp', ['-R', '-P', '--preserve=mode,timestamps', `${src}/.`, destHost]);
          } else {
            const target = intoDir ? path.join(destHost, path.basename(src)) : destHost;
            fs.mkdirSync(path.dirname(target), { recursive: true });
            run('cp', ['-P', '--preserve=mode,timestamps', src, target]);
          }
        }
        if (flags.chown && process.getuid?.() === 0) {
          // The base image's `node` user is uid/gid 1000; other names would need its /etc/passwd.
          const id = (s: string) => (/^\d+$/.test(s) ? s : s === 'node' ? '1000' : die(`COPY --chown=${flags.chown}: use numeric ids`));
          const [u = '', g] = flags.chown.split(':');
          run('chown', ['-R', `${id(u)}:${id(g ?? u)}`, destHost]);
        }
        break;
      }
      case 'RUN': {
        for (const f of Object.keys(flags)) {
          if (!['mount', 'network', 'security'].includes(f)) die(`RUN --${f} is not supported by the replay`);
        }
        if (ins instanceof Run && ins.getHeredocs().length) die(`RUN with a heredoc is not supported by the replay: ${text}`);
        const exec = execForm(ins);
        const npmOnly = exec ? ['npm', 'npx'].includes(exec[0]!) : text.split('&&').every((part) => NPM_ONLY.test(part));
        if (!npmOnly) {
          if (index > lastFrom) {
            stage.notReplayed.push(text);
            console.log('    (not replayed: system-level step of the final stage, see below)');
            break;
          }
          die(`cannot replay "RUN ${text}" in build stage ${stage.name} outside a container; keep build stages to npm ` +
            'commands or extend .ci/image/dockerfile.ts');
        }
        const [cmd, ...argv] = exec ?? shellForm(ins);
        const started = Date.now();
        const r = spawnSync(cmd!, argv, { cwd: toHost(stage, stage.workdir), env: { ...process.env, ...stage.env }, stdio: 'inherit' });
        if (r.status !== 0) die(`RUN ${text} failed in stage ${stage.name} (exit ${r.status ?? r.signal})`);
        console.log(`    done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        break;
      }
      case 'USER':
        stage.user = words(ins).join(' ');
        break;
      case 'EXPOSE':
        stage.expose.push(...words(ins));
        break;
      case 'VOLUME':
        stage.volumes.push(...(execForm(ins) ?? words(ins)));
        break;
      case 'ENTRYPOINT':
        stage.entrypoint = execForm(ins) ?? shellForm(ins);
        break;
      case 'CMD':
        stage.cmd = execForm(ins) ?? shellForm(ins);
        break;
      case 'HEALTHCHECK': {
        const sub = (ins instanceof Healthcheck ? ins.getSubcommand() : null)?.getValue().toUpperCase();
        if (sub === 'NONE') {
          stage.healthcheck = null;
          break;
        }
        if (sub !== 'CMD') die(`HEALTHCHECK must be NONE or CMD …: ${text}`);
        const command = text.replace(/^\S+\s+/, '');
        let test: string[];
        try {
          test = JSON.parse(command) as string[];
          if (!Array.isArray(test) || !test.every((x) => typeof x === 'string')) throw new Error('not a string array');
        } catch {
          test = ['/bin/sh', '-c', command];
        }
        stage.healthcheck = { options: flags, test };
        break;
      }
      case 'STOPSIGNAL':
        stage.stopsignal = words(ins)[0] ?? null;
        break;
      case 'LABEL':
      case 'MAINTAINER':
        break;
      default:
        die(`the replay does not support ${op} (${text})`);
    }
  }
  const final = stages.at(-1) ?? die('no FROM in the Dockerfile');
  const mappedEnv = Object.fromEntries(Object.entries(final.env).map(([k, v]) =>
    [k, v.startsWith('/') && fs.existsSync(path.join(final.root, v.split('/')[1]!)) ? path.join(final.root, v) : v]));
  const image: Image = {
    target: final.name,
    root: final.root,
    workdir: final.workdir,
    workdirHost: toHost(final, final.workdir),
    env: final.env,
    mappedEnv,
    user: final.user,
    expose: final.expose,
    volumes: final.volumes,
    volumesHost: final.volumes.map((v) => toHost(final, v)),
    entrypoint: final.entrypoint ?? [],
    cmd: final.cmd ?? [],
    healthcheck: final.healthcheck,
    stopsignal: final.stopsignal ?? 'SIGTERM',
    notReplayed: final.notReplayed,
  };
  fs.writeFileSync(path.join(out, 'image.json'), JSON.stringify(image, null, 2));
  if (final.notReplayed.length) {
    console.log(`\nNot replayed in the final stage (they need the image's root file system):`);
    for (const r of final.notReplayed) console.log(`  RUN ${r}`);
  }
}
