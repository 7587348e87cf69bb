// Opens the database chosen by configuration, brings its schema up to date, and shares it with the app.
// Closed last on shutdown (Fastify runs onClose hooks in reverse registration order).
import fp from 'fastify-plugin';
import type { Config } from '../config/config.js';
import { openDatabase, type Database } from './database.js';
import { applyMigrations } from './migrate.js';
import { waitForDatabase } from './connect.js';

declare module 'fastify' {
  interface FastifyInstance {
    db: Database;
  }
}

export default fp<{ config: Config; sharedDatabase: boolean }>(
  async (app, { config, sharedDatabase }) => {
    const db = await openDatabase({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      shared: sharedDatabase,
      // The embedded server is not restarted within this process. Raised as an uncaught error, it makes
      // the service shut down gracefully and exit with status 1 (see server.ts), so that whatever
      // supervises it (Docker's restart policy, systemd) starts it again.
      onFailure: (error) => {
        app.log.fatal({ err: error }, 'the embedded database stopped');
        setImmediate(() => {
          throw error;
        });
      },
    });
    try {
      await waitForDatabase(db, {
        // One short line per attempt: the reason is in the message, and twelve stack traces of the same
        // ECONNREFUSED would bury the final line that says what to check. LOG_LEVEL=debug adds the error.
        onRetry: (attempt, delayMs, error) =>
          app.log.warn(
            { database: db.kind, address: `${db.address.host}:${db.address.port}`, attempt, ...(['debug', 'trace'].includes(config.logLevel) ? { err: error } : {}) },
            `database not reachable (attempt ${attempt}: ${error.message || (error as { code?: string }).code}); retrying in ${(delayMs / 1000).toFixed(1)} s`,
          ),
      });
      app.log.info({ database: db.kind, location: db.location }, 'database opened');
      const applied = await applyMigrations(db);
      if (applied.length > 0) app.log.info({ migrations: applied }, `applied ${applied.length} migration(s)`);
      else app.log.info('database schema is up to date');
    } catch (error) {
      await db.close();
      throw error;
    }
    app.decorate('db', db);
    app.addHook('onClose', async () => {
      await db.close();
      app.log.info('database closed');
    });
  },
  { name: 'database' },
);
