-- Members of a team install (src/members/): who each connected WHOOP account is in Slack, and what they agreed to
-- share. The first account of an install shares its values in channels (a one-person install behaves as before);
-- every later one keeps them private until its member types `/whoop share on`.
CREATE TABLE "members" (
    "user_id" BIGINT NOT NULL,
    "slack_user_id" TEXT,
    "shares" BOOLEAN NOT NULL DEFAULT false,
    "digest" BOOLEAN NOT NULL DEFAULT true,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "members_pkey" PRIMARY KEY ("user_id"),
    CONSTRAINT "members_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "whoop_users"("user_id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "members_slack_user_id_key" ON "members"("slack_user_id");

INSERT INTO "members" ("user_id", "shares")
SELECT "user_id", row_number() OVER (ORDER BY "connected_at", "user_id") = 1 FROM "whoop_users";

-- Single-use, expiring links handed to one Slack user: connect a WHOOP account, sign in to the dashboard, or
-- confirm forgetting. Only the SHA-256 of the secret is stored.
CREATE TABLE "member_tickets" (
    "ticket_hash" TEXT NOT NULL,
    "purpose" TEXT NOT NULL,
    "slack_user_id" TEXT NOT NULL,
    "user_id" BIGINT,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "member_tickets_pkey" PRIMARY KEY ("ticket_hash"),
    CONSTRAINT "member_tickets_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "whoop_users"("user_id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "member_tickets_expires_at_idx" ON "member_tickets"("expires_at");

-- Dashboard sign-ins, kept server-side so that signing out or revoking a member ends them at once. A null
-- user_id is the operator (DASHBOARD_PASSWORD); otherwise the member whose data the session may see.
CREATE TABLE "dashboard_sessions" (
    "session_hash" TEXT NOT NULL,
    "user_id" BIGINT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "dashboard_sessions_pkey" PRIMARY KEY ("session_hash"),
    CONSTRAINT "dashboard_sessions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "whoop_users"("user_id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "dashboard_sessions_user_id_idx" ON "dashboard_sessions"("user_id");
CREATE INDEX "dashboard_sessions_expires_at_idx" ON "dashboard_sessions"("expires_at");

-- A connect flow is bound to the browser that started it (the hash of a cookie) and, when it started from a
-- personal link, to the Slack user the link was made for.
ALTER TABLE "oauth_states" ADD COLUMN "browser_hash" TEXT, ADD COLUMN "slack_user_id" TEXT;
