// Encryption at rest of the stored WHOOP tokens (TOKEN_ENCRYPTION_KEY): AES-256-GCM, one fresh 12-byte IV
// per value. An encrypted value is text, so it fits the existing columns:
//
//   enc:v1:<key id>:<base64url IV>:<base64url ciphertext>:<base64url tag>
//
// The key id (the first 8 hex characters of the key's SHA-256) says which configured key decrypts the value,
// so that values written under a previous key stay readable during a rotation. The additional
// authenticated data binds each value to its row and column (`whoop_tokens:<user_id>:<column>`): a value
// copied into another account's row, or from access_token to refresh_token, fails to decrypt. A value
// without the `enc:` prefix is a token stored before encryption was turned on and is read as it is.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

export type TokenColumn = 'access_token' | 'refresh_token';

export interface TokenEncryptionKeys {
  /** Encrypts every write; also decrypts. Unset: values are written as they are. */
  key?: Buffer;
  /** Only decrypt: values written before a key rotation. */
  previousKeys: Buffer[];
}

/** How a stored value relates to the configured keys. */
export type StoredValueState = 'plaintext' | 'current' | 'previous' | 'unknown-key';

const PREFIX = 'enc:';
const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

export class TokenDecryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenDecryptionError';
  }
}

/** A key's public name: the first 8 hex characters of its SHA-256. Reveals nothing useful about the key. */
export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

export function isEncrypted(value: string): boolean {
  return value.startsWith(PREFIX);
}

/** The id of the key an encrypted value names (undefined for plaintext or a malformed value). */
export function encryptedKeyId(value: string): string | undefined {
  const parts = value.split(':');
  return isEncrypted(value) && parts[1] === VERSION && parts.length === 6 ? parts[2] : undefined;
}

function additionalData(userId: bigint, column: TokenColumn): Buffer {
  return Buffer.from(`whoop_tokens:${userId}:${column}`, 'utf8');
}

export class TokenCipher {
  private readonly current: { id: string; key: Buffer } | undefined;
  /** Every key that may decrypt, current first, by id. */
  private readonly keys = new Map<string, Buffer>();

  constructor(config: TokenEncryptionKeys) {
    for (const key of [...(config.key ? [config.key] : []), ...config.previousKeys]) {
      if (key.length !== KEY_BYTES) throw new RangeError(`a token encryption key must be ${KEY_BYTES} bytes, got ${key.length}`);
      const id = keyIdOf(key);
      if (!this.keys.has(id)) this.keys.set(id, key);
    }
    this.current = config.key ? { id: keyIdOf(config.key), key: config.key } : undefined;
  }

  /** True when writes are encrypted (TOKEN_ENCRYPTION_KEY is set). */
  get enabled(): boolean {
    return this.current !== undefined;
  }

  get currentKeyId(): string | undefined {
    return this.current?.id;
  }

  /** What a write stores: the encrypted value when a key is configured, otherwise the token itself. */
  seal(token: string, userId: bigint, column: TokenColumn): string {
    return this.current ? this.encrypt(token, userId, column) : token;
  }

  encrypt(token: string, userId: bigint, column: TokenColumn): string {
    if (!this.current) throw new Error('TOKEN_ENCRYPTION_KEY is not set: there is no key to encrypt with');
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(additionalData(userId, column));
    const ciphertext = Buffer.concat([cipher.update(token, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [PREFIX + VERSION, this.current.id, iv.toString('base64url'), ciphertext.toString('base64url'), tag.toString('base64url')].join(':');
  }

  /** The token a stored value holds. Plaintext (stored before encryption was enabled) is returned as it is. */
  decrypt(stored: string, userId: bigint, column: TokenColumn): string {
    if (!isEncrypted(stored)) return stored;
    const fail = (reason: string): never => {
      throw new TokenDecryptionError(`Cannot decrypt the stored WHOOP ${column} of account ${userId}: ${reason}`);
    };
    const parts = stored.split(':');
    if (parts[1] !== VERSION) {
      return fail(`token is in encryption format ${parts[1] ?? '(none)'}, which this version of whoop-sync does not read`);
    }
    const [, , id, ivText, ciphertextText, tagText] = parts;
    if (parts.length !== 6 || !/^[0-9a-f]{8}$/.test(id!)) return fail('token is not a well-formed enc:v1 value');
    const key = this.keys.get(id!);
    if (!key) {
      return fail(`token was encrypted with key ${id}, which is not configured (TOKEN_ENCRYPTION_KEY / TOKEN_ENCRYPTION_PREVIOUS_KEYS)`);
    }
    const iv = Buffer.from(ivText!, 'base64url');
    const tag = Buffer.from(tagText!, 'base64url');
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) return fail('token is not a well-formed enc:v1 value');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(additionalData(userId, column));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(Buffer.from(ciphertextText!, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      return fail(
        `token failed authentication with key ${id}: the stored value was altered, or copied from another account or column`,
      );
    }
  }

  /** Why a stored value cannot be read with the configured keys, or undefined when it can. */
  problemWith(stored: string, userId: bigint, column: TokenColumn): string | undefined {
    try {
      this.decrypt(stored, userId, column);
      return undefined;
    } catch (error) {
      if (error instanceof TokenDecryptionError) return error.message;
      throw error;
    }
  }

  /**
   * Whether a stored value is plaintext, under the current key, under a previous key, or under a key not
   * configured.
   */
  state(stored: string): StoredValueState {
    if (!isEncrypted(stored)) return 'plaintext';
    const id = encryptedKeyId(stored);
    if (id !== undefined && id === this.current?.id) return 'current';
    if (id !== undefined && this.keys.has(id)) return 'previous';
    return 'unknown-key';
  }
}
