import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { SecretFormatError } from '../../functions/core/errors.js';
import { readSecret } from '../../functions/runtime.js';

const secrets = mockClient(SecretsManagerClient);
afterEach(() => secrets.reset());

describe('secrets in the Lambda runtime (Powertools parameters)', () => {
  it('reads a secret by name or ARN once per container and max age, trimmed', async () => {
    secrets
      .on(GetSecretValueCommand, { SecretId: 'masv-relay/api-key' })
      .resolves({ SecretString: ' key-1\n' });
    expect(await readSecret('masv-relay/api-key')).toBe('key-1');
    expect(await readSecret('masv-relay/api-key')).toBe('key-1');
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('refuses a secret without a text value, saying how to store it', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1, 2]) });
    await expect(readSecret('masv-relay/binary')).rejects.toThrow(/store the value alone as plain text/);
    secrets.on(GetSecretValueCommand).resolves({ SecretString: '   ' });
    await expect(readSecret('masv-relay/blank')).rejects.toThrow(/has no string value/);
  });

  it('refuses a key/value (JSON) secret with a typed error naming the secret, never its value', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: '{"apiKey":"key-1"}' });
    const error = await readSecret('masv-relay/kv').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretFormatError);
    expect((error as Error).name).toBe('SecretFormatError');
    expect((error as Error).message).toMatch(
      /^Secret masv-relay\/kv holds key\/value pairs \(JSON\).*Fix: store the value alone as plain text, e\.g\. aws secretsmanager put-secret-value --secret-id masv-relay\/kv/,
    );
    expect((error as Error).message).not.toContain('key-1');
  });

  it('keeps a plain value that merely starts with a brace', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: '{not json' });
    expect(await readSecret('masv-relay/brace')).toBe('{not json');
  });
});
