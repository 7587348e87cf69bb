// Prisma CLI configuration. Only `prisma generate` runs here (the service applies migrations itself, see
// src/db/migrate.ts), so no database URL is required: the client gets its driver adapter at run time.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
});
