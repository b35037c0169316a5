import { describe, expect, it } from 'vitest';
import { MasvProtocolError } from '../../functions/core/errors.js';
import { parseStorageError, parseUploadId } from '../../functions/core/masv/upload-id.js';

describe('parseUploadId', () => {
  it('reads S3 InitiateMultipartUploadResult with the S3 default namespace', () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>masv</Bucket><Key>a/b.mov</Key><UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId></InitiateMultipartUploadResult>`;
    expect(parseUploadId(xml)).toBe('VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA');
  });

  it('reads a prefixed namespace and keeps numeric-looking ids as strings', () => {
    const xml = `<s3:InitiateMultipartUploadResult xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/"><s3:Bucket>b</s3:Bucket><s3:Key>k</s3:Key><s3:UploadId>000123</s3:UploadId></s3:InitiateMultipartUploadResult>`;
    expect(parseUploadId(xml)).toBe('000123');
  });

  it('fails clearly when UploadId is absent', () => {
    expect(() =>
      parseUploadId('<InitiateMultipartUploadResult><Bucket>b</Bucket></InitiateMultipartUploadResult>'),
    ).toThrow(MasvProtocolError);
    expect(() => parseUploadId('<Error><Code>AccessDenied</Code></Error>')).toThrow(/no UploadId/);
  });
});

describe('parseStorageError', () => {
  it('reads Code and Message of an S3 error document', () => {
    expect(
      parseStorageError('<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>'),
    ).toEqual({
      code: 'SlowDown',
      message: 'Reduce your request rate.',
    });
  });
});
