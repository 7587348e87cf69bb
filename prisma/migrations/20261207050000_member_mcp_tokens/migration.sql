-- A member's own MCP token (src/team/mcp-tokens.ts): it answers for that member's data only. One per member;
-- creating another replaces it. Only the SHA-256 of the token is stored: it is shown once, when created.
CREATE TABLE "member_mcp_tokens" (
    "user_id" BIGINT NOT NULL,
    "token_hash" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "member_mcp_tokens_pkey" PRIMARY KEY ("user_id"),
    CONSTRAINT "member_mcp_tokens_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "whoop_users"("user_id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "member_mcp_tokens_token_hash_key" ON "member_mcp_tokens"("token_hash");
