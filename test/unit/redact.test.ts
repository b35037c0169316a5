import { describe, expect, it } from 'vitest';
import { storageResponseError } from '../../functions/core/masv/response-errors.js';
import { redact, redactUrl } from '../../functions/core/redact.js';

const token =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIwMUVOWDlCMUo2OE5UOVk0UUhYRDdUMFg2UyJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ';

describe('redact', () => {
  it('removes presigned URL query strings', () => {
    const text = 'PUT http://127.0.0.1:9/store/u/1?partNumber=1&X-Signature=abcdef failed';
    expect(redact(text)).toBe('PUT http://127.0.0.1:9/store/u/1?[redacted] failed');
  });

  it('removes package tokens (JWTs) wherever they appear', () => {
    expect(redact(`token was ${token}.`)).not.toContain('eyJ');
  });

  it('removes API keys and access codes in headers and JSON fields', () => {
    const out = redact(
      '{"x-api-key":"sk-live-123","password":"hunter2","access_code":"c0de"} X-Access-Code: c0de2',
    );
    expect(out).not.toMatch(/sk-live-123|hunter2|c0de/);
  });

  it('removes presigned query parameters and download secrets that come without their URL', () => {
    const body =
      'Signature does not match for /bucket/u/1?partNumber=1&X-Amz-Credential=AKIAEXAMPLE%2F20250101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Security-Token=FwoGZXIvYXdz&X-Amz-Signature=0123abcd';
    const error = storageResponseError('part 1', 400, body);
    expect(error.message).toContain('partNumber=1');
    expect(error.message).not.toMatch(/AKIAEXAMPLE|FwoGZXIvYXdz|0123abcd/);
    expect(redact('{"download_secret":"s3cr3t"} ?download_secret=s3cr3t2')).not.toMatch(/s3cr3t/);
  });

  it('leaves ordinary text alone', () => {
    expect(redact('MASV POST /v1/packages/{package_id}/files answered 400: name is required')).toBe(
      'MASV POST /v1/packages/{package_id}/files answered 400: name is required',
    );
  });
});

describe('redactUrl', () => {
  it('keeps the path and drops the query', () => {
    expect(redactUrl('https://s.example/a/b?sig=1')).toBe('https://s.example/a/b?[redacted]');
    expect(redactUrl('https://s.example/a/b')).toBe('https://s.example/a/b');
  });
});
