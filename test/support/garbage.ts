// A full garbage collection on demand, for tests about what memory or a garbage-collected object keeps
// alive. The flag only exposes gc() to contexts created after it is set, hence the new context.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
export const collectGarbage = runInNewContext('gc') as () => void;
