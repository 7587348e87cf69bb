// The TypeScript side of .ci/image-check, one command per call:
//   bases DOCKERFILE                print the external base images of the Dockerfile's stages
//   context SOURCE OUT              plant scratch secrets, apply .dockerignore, copy the admitted files to OUT
//   env-example README ENV_EXAMPLE  .env.example covers the README's configuration table, secrets empty
//   replay DOCKERFILE CONTEXT OUT   replay the Dockerfile's stages in OUT/stages/<name>/; write OUT/image.json
//   contents IMAGE_JSON CONTEXT     the final stage's files, node_modules and run-time settings
//   run NAME IMAGE_JSON [VAR=V...]  start the image's ENTRYPOINT + CMD, check it, stop it with SIGTERM
//   summary NODE NPM SECONDS        the PASS line, from the facts the other commands recorded
// IMAGE_CHECK_WORK (the script's temp dir) holds the facts and logs; `run` also needs IMAGE_CHECK_TOOLBIN.
import { context } from './context.js';
import { contents } from './contents.js';
import { bases, replay } from './dockerfile.js';
import { envExample } from './env-example.js';
import { runService } from './service.js';
import { die, readFacts } from './util.js';

function summary([node, npm, seconds]: string[]): void {
  const f = readFacts();
  console.log(`\nimage-check: PASS: context ${f.contextFiles} files with no secrets; compose valid (v1, +monitoring); ` +
    `promtool config and alert tests pass; Dockerfile replayed on Node ${node}/npm ${npm}; /app has node_modules ` +
    `(${f.nodeModules}, no dev packages), dist, prisma/migrations, public, package.json; as uid ${f.runUid} on PostgreSQL and ` +
    `the embedded server it passed its HEALTHCHECK and exited 0 on SIGTERM (${f.stopMs_postgres} and ` +
    `${f.stopMs_embedded} ms); ${seconds} s`);
}

const commands: Record<string, (args: string[]) => void | Promise<void>> = {
  bases, context, 'env-example': envExample, replay, contents, run: runService, summary,
};
const [command = '', ...args] = process.argv.slice(2);
await (commands[command] ?? die(`unknown command '${command}'`))(args);
