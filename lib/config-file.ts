import { readFileSync } from 'node:fs';
import { type ParseError, parse, printParseErrorCode } from 'jsonc-parser';
import { ConfigError, parseConfig, type RelayConfig } from '../functions/core/config.js';

/** Reads a JSON-with-comments configuration file and validates it. */
export function loadConfigFile(path: string): RelayConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError([
      `${path}: the file cannot be read. Fix: copy config/example.config.jsonc to ${path} and edit it, or pass -c config=<path>.`,
    ]);
  }
  const errors: ParseError[] = [];
  const value = parse(text, errors, { allowTrailingComma: true });
  if (errors.length > 0) {
    const problems = errors.map((e) => {
      const line = text.slice(0, e.offset).split('\n').length;
      return `${path}:${line}: ${printParseErrorCode(e.error)}. Fix: correct the JSON syntax there.`;
    });
    throw new ConfigError(problems);
  }
  return parseConfig(value);
}
