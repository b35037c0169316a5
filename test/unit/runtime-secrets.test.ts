import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
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
    await expect(readSecret('masv-relay/binary')).rejects.toThrow(/store the value as plain text/);
    secrets.on(GetSecretValueCommand).resolves({ SecretString: '   ' });
    await expect(readSecret('masv-relay/blank')).rejects.toThrow(/has no string value/);
  });
});
